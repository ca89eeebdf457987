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
