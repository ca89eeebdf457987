// swift-tools-version: 6.1
import PackageDescription

// Data flows one way: RedlineCore (C hot path) <- Redline (Swift orchestrator) <- redline (CLI).
// No unsafeFlags in library targets: strategies depend on Redline by version.
let package = Package(
    name: "Redline",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Redline", targets: ["Redline"]),
        .library(name: "RedlineCore", targets: ["RedlineCore"]),
        .library(name: "RedlineOperations", targets: ["RedlineOperations"]),
        .executable(name: "redline", targets: ["redline"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    ],
    targets: [
        .target(
            name: "RedlineCore",
            path: "CSources/RedlineCore",
            cSettings: [.define("_GNU_SOURCE")],
            linkerSettings: [.linkedLibrary("uring"), .linkedLibrary("numa")]
        ),
        .target(
            name: "Redline",
            dependencies: [
                "RedlineCore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        // The operator's side, off the order path: /metrics over HTTP and the
        // control socket (freeze, unfreeze, limits, what-if, orders, events),
        // on their own event loop, through the monitor's thread-safe API.
        .target(
            name: "RedlineOperations",
            dependencies: [
                "Redline",
                "RedlineCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Counts allocations per thread by interposing malloc: linked only into
        // the load test (and so the CLI and its test), never into Redline.
        .target(name: "RedlineMallocCounter", path: "CSources/RedlineMallocCounter"),
        // The load test: strategy threads, the pinned risk thread, invariants, percentiles.
        .target(
            name: "RedlineLoadTest",
            dependencies: [
                "Redline",
                "RedlineOperations",
                "RedlineCore",
                "RedlineMallocCounter",
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "redline",
            dependencies: [
                "Redline",
                "RedlineLoadTest",
                "RedlineOperations",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "RedlineCoreTests", dependencies: ["RedlineCore"]),
        .testTarget(name: "RedlineTests", dependencies: [
            "Redline", "RedlineCore", "RedlineLoadTest", "RedlineOperations",
            .product(name: "PropertyBased", package: "swift-property-based"),
        ]),
    ]
)
