// swift-tools-version: 6.1
import PackageDescription

// Benchmarks live in their own package so that package-benchmark (and its
// malloc interposer) stay out of every build and test of Redline itself.
let package = Package(
    name: "RedlineBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "Redline", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", exact: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        // The C-side caller: the hot path as a C or C++ strategy calls it.
        .target(
            name: "CBenchSupport",
            dependencies: [.product(name: "RedlineCore", package: "Redline")],
            path: "CBenchSupport"
        ),
        // Redline's ring and boost::lockfree::spsc_queue in one C++ harness.
        // C++23 for <stdatomic.h>; unsafeFlags are fine here: this package is
        // only ever a root package, never a dependency.
        .target(
            name: "CPeerBench",
            dependencies: [.product(name: "RedlineCore", package: "Redline")],
            path: "CPeerBench",
            cxxSettings: [.unsafeFlags(["-std=c++2b", "-fmodules"])]
        ),
        // Threaded benchmarks: rings between pinned threads (against boost),
        // freeze propagation, end-to-end orders per second. Timed, not gated.
        .executableTarget(
            name: "RuntimeBenchmarks",
            dependencies: [
                "CPeerBench",
                .product(name: "Redline", package: "Redline"),
                .product(name: "RedlineCore", package: "Redline"),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "RuntimeBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "RedlineBenchmarks",
            dependencies: [
                "CBenchSupport",
                .product(name: "Redline", package: "Redline"),
                .product(name: "RedlineCore", package: "Redline"),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "RedlineBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
