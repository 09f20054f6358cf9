// swift-tools-version: 6.1
// Meridian: a geo-cluster high-availability manager.
import PackageDescription

let strict: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let package = Package(
    name: "Meridian",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "meridian", targets: ["meridian"]),
        .executable(name: "meridian-ticketd", targets: ["meridian-ticketd"]),
        .executable(name: "meridian-ticket-sim", targets: ["meridian-ticket-sim"]),
        .executable(name: "meridian-bench", targets: ["meridian-bench"]),
        .executable(name: "meridian-replicad", targets: ["meridian-replicad"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    ],
    targets: [
        // C libraries enter through thin system-library modules.
        .systemLibrary(name: "CLibXML2", path: "Sources/CLibXML2", pkgConfig: "libxml-2.0",
                       providers: [.apt(["libxml2-dev"])]),
        .systemLibrary(name: "CCurl", path: "Sources/CCurl", pkgConfig: "libcurl",
                       providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CQB", path: "Sources/CQB",
                       providers: [.apt(["libqb-dev"])]),
        .systemLibrary(name: "CCorosync", path: "Sources/CCorosync",
                       providers: [.apt(["libcpg-dev", "libquorum-dev", "libcmap-dev", "libcorosync-common-dev"])]),

        // Swift wrappers of the C libraries.
        .target(name: "MeridianXML", dependencies: ["CLibXML2"], swiftSettings: strict),
        .target(name: "MeridianHTTP", dependencies: ["CCurl"], swiftSettings: strict),
        .target(name: "MeridianLogging", dependencies: ["CQB", .product(name: "Logging", package: "swift-log")],
                swiftSettings: strict),
        .target(name: "MeridianCorosync", dependencies: ["CCorosync"], swiftSettings: strict),

        // Tickets: configuration, wire protocol, pure lease core, shell.
        .target(name: "BoothConfig", swiftSettings: strict),
        .target(name: "TicketWire", dependencies: [
            "BoothConfig", .product(name: "Crypto", package: "swift-crypto"),
        ], swiftSettings: strict),
        .target(name: "TicketLease", dependencies: ["BoothConfig"], swiftSettings: strict),
        .target(name: "TicketStore", dependencies: ["BoothConfig", "TicketLease", "MeridianXML"],
                swiftSettings: strict),
        .target(name: "TicketDaemon", dependencies: [
            "BoothConfig", "TicketWire", "TicketLease", "TicketStore",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: strict),
        .target(name: "TicketClient", dependencies: [
            "BoothConfig", "TicketWire",
        ], swiftSettings: strict),
        // Cluster information base and scheduler.
        .target(name: "CIB", dependencies: ["MeridianXML"], swiftSettings: strict),
        .target(name: "Scheduler", dependencies: ["CIB"], swiftSettings: strict),
        .target(name: "TicketSimulation", dependencies: ["BoothConfig", "TicketLease"], swiftSettings: strict),
        .target(name: "ClusterSimulation", dependencies: ["CIB", "Scheduler", "MeridianXML"], swiftSettings: strict),

        // Replicated volumes: pure cores, storage, NBD, configuration, control, peer wire, daemon shell.
        .target(name: "ReplicationTracking", swiftSettings: strict),
        .target(name: "ReplicationState", swiftSettings: strict),
        .target(name: "ReplicaStorage", swiftSettings: strict),
        .target(name: "NBD", swiftSettings: strict),
        .target(name: "ReplicaConfig", swiftSettings: strict),
        .target(name: "ReplicaControl", swiftSettings: strict),
        .target(name: "ReplicaWire", dependencies: [.product(name: "Crypto", package: "swift-crypto")],
                swiftSettings: strict),
        .target(name: "ReplicaDaemon", dependencies: [
            "ReplicaWire", "NBD", "ReplicaStorage", "ReplicationState", "ReplicationTracking",
            "ReplicaConfig", "ReplicaControl", .product(name: "Crypto", package: "swift-crypto"),
        ], swiftSettings: strict),

        // DNS failover: RFC 2136 dynamic update signed with TSIG, authoritative answers.
        .target(name: "DNSUpdate", dependencies: [.product(name: "Crypto", package: "swift-crypto")],
                swiftSettings: strict),

        // Executables.
        .executableTarget(name: "meridian-replicad", dependencies: [
            "ReplicaDaemon", "ReplicaConfig", "MeridianLogging",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: strict),
        .executableTarget(name: "meridian-ticketd", dependencies: [
            "TicketDaemon", "BoothConfig", "MeridianLogging",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: strict),
        .executableTarget(name: "meridian", dependencies: [
            "TicketClient", "BoothConfig", "TicketWire",
            "ClusterSimulation", "CIB", "Scheduler", "MeridianXML", "ReplicaConfig", "ReplicaControl",
            "DNSUpdate", "MeridianHTTP",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: strict),
        .executableTarget(name: "meridian-ticket-sim", dependencies: [
            "TicketSimulation",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: strict),
        .executableTarget(name: "meridian-bench", dependencies: [
            "TicketWire", "BoothConfig", "CIB", "Scheduler",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: strict),

        // Tests: one target per module.
        .testTarget(name: "MeridianXMLTests", dependencies: ["MeridianXML"], swiftSettings: strict),
        .testTarget(name: "MeridianHTTPTests", dependencies: ["MeridianHTTP", "ProcessTestSupport"], swiftSettings: strict),
        .testTarget(name: "MeridianLoggingTests", dependencies: ["MeridianLogging"], swiftSettings: strict),
        .testTarget(name: "MeridianCorosyncTests", dependencies: ["MeridianCorosync"], swiftSettings: strict),
        .testTarget(name: "BoothConfigTests", dependencies: ["BoothConfig"], swiftSettings: strict),
        .testTarget(name: "TicketWireTests", dependencies: ["TicketWire"], swiftSettings: strict),
        .testTarget(name: "TicketLeaseTests", dependencies: ["TicketLease"], swiftSettings: strict),
        .testTarget(name: "TicketStoreTests", dependencies: ["TicketStore"], swiftSettings: strict),
        .testTarget(name: "TicketSimulationTests", dependencies: ["TicketSimulation"], swiftSettings: strict),
        .target(name: "CorpusTestSupport", path: "Tests/CorpusTestSupport", swiftSettings: strict),
        .testTarget(name: "CIBTests", dependencies: ["CIB", "CorpusTestSupport"],
                    exclude: ["status-known-failures.txt", "status-extra-known-failures.txt"],
                    swiftSettings: strict),
        .testTarget(name: "SchedulerTests", dependencies: ["Scheduler", "CIB", "CorpusTestSupport"],
                    exclude: ["scores-known-failures.txt", "scores-extra-known-failures.txt"], swiftSettings: strict),
        .testTarget(name: "ClusterSimulationTests", dependencies: ["ClusterSimulation", "CIB", "Scheduler", "CorpusTestSupport"],
                    exclude: ["execution-known-failures.txt"], swiftSettings: strict),
        .target(name: "ProcessTestSupport", path: "Tests/ProcessTestSupport", swiftSettings: strict),
        .testTarget(name: "ReplicaWireTests", dependencies: ["ReplicaWire"], swiftSettings: strict),
        .testTarget(name: "ReplicationTrackingTests", dependencies: ["ReplicationTracking"], swiftSettings: strict),
        .testTarget(name: "ReplicationStateTests", dependencies: ["ReplicationState", "ReplicationTracking"],
                    swiftSettings: strict),
        .testTarget(name: "ReplicationSimulationTests", dependencies: ["ReplicationState", "ReplicationTracking"],
                    swiftSettings: strict),
        .testTarget(name: "ReplicaStorageTests", dependencies: ["ReplicaStorage"], swiftSettings: strict),
        .testTarget(name: "ReplicaConfigTests", dependencies: ["ReplicaConfig"], swiftSettings: strict),
        .testTarget(name: "NBDTests", dependencies: ["NBD", "ProcessTestSupport"], swiftSettings: strict),
        .testTarget(name: "ReplicaDaemonTests", dependencies: ["ProcessTestSupport", "ReplicaControl"],
                    swiftSettings: strict),
        .testTarget(name: "DNSUpdateTests", dependencies: ["DNSUpdate"], swiftSettings: strict),
        .testTarget(name: "ServiceAgentTests", dependencies: ["ProcessTestSupport", "DNSUpdate"], swiftSettings: strict),
        .testTarget(name: "TicketDaemonTests", dependencies: ["TicketClient", "BoothConfig", "TicketWire", "ProcessTestSupport"],
                    exclude: ["Snapshots"],
                    swiftSettings: strict),
    ]
)
