// swift-tools-version:6.1
import PackageDescription

/// Every target builds in Swift 6 language mode with strict concurrency checking.
let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "chatroom",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "chatroom", targets: ["chatroom"])
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.8.0"),
        .package(url: "https://github.com/vapor/sqlite-nio.git", from: "1.13.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/hummingbird-project/swift-websocket.git", from: "1.6.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        // The wire: the one JSON value type and writer, stored items and their
        // DynamoDB JSON codec. A leaf: the stores, the AWS clients and the domain share it.
        .target(name: "ChatWire", swiftSettings: strict),
        // The domain: members, rooms, connections, messages, the single-table keys, the
        // store and delivery seams, passwords and tokens. No server framework in here.
        .target(
            name: "ChatCore",
            dependencies: [
                "ChatWire",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "JWTKit", package: "jwt-kit"),
            ],
            swiftSettings: strict
        ),
        // One handler per API Gateway route, from API Gateway's event shapes to its responses.
        .target(
            name: "ChatHandlers",
            dependencies: ["ChatCore", .product(name: "Logging", package: "swift-log"), .product(name: "CoreMetrics", package: "swift-metrics")],
            swiftSettings: strict
        ),
        // What an operator watches: metrics for Prometheus and for CloudWatch (EMF),
        // and logs as JSON lines.
        .target(
            name: "ChatObservability",
            dependencies: [
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // The embedded store: the same PK/SK items in one SQLite file.
        .target(
            name: "ChatSQLiteStore",
            dependencies: [
                "ChatCore",
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "SQLiteNIO", package: "sqlite-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // The local stand-in for API Gateway: HTTP + WebSocket on one port.
        .target(
            name: "ChatLocalGateway",
            dependencies: [
                "ChatCore",
                "ChatHandlers",
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            resources: [.copy("Public")],
            swiftSettings: strict
        ),
        // The client side of the contract: HTTP calls and a WebSocket, shared by the
        // tests, the terminal client and the benchmark.
        .target(
            name: "ChatClient",
            dependencies: [
                "ChatCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "WSClient", package: "swift-websocket"),
                .product(name: "WSCore", package: "swift-websocket"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // The small AWS pieces we need, written here: SigV4, DynamoDB's JSON API,
        // API Gateway's management API. Nothing chat-specific.
        .target(
            name: "AWSClients",
            dependencies: [
                "ChatWire",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // The chat's seams on AWS: the store on DynamoDB, delivery through @connections.
        .target(
            name: "ChatAWS",
            dependencies: ["ChatCore", "AWSClients", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        // The Lambda Runtime API loop for a custom runtime (provided.al2023).
        .target(
            name: "LambdaRuntime",
            dependencies: [
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // The one Lambda binary: `_HANDLER` picks the route.
        .executableTarget(
            name: "bootstrap",
            dependencies: [
                "ChatCore", "ChatHandlers", "ChatAWS", "AWSClients", "LambdaRuntime", "ChatObservability",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "chatroom",
            dependencies: [
                "ChatCore",
                "ChatHandlers",
                "ChatSQLiteStore",
                "ChatLocalGateway",
                "ChatAWS",
                "AWSClients",
                "ChatClient",
                "ChatObservability",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        // Benchmarks (never run by the tests): the load tool, and (below) the floor
        // server and the history benchmark.
        .executableTarget(
            name: "chatbench",
            dependencies: [
                "ChatClient",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            swiftSettings: strict
        ),
        // The floor the benchmark compares with: a WebSocket broadcast of bare NIO handlers.
        .executableTarget(
            name: "floor-server",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            path: "Benchmarks/Floor",
            swiftSettings: strict
        ),
        // What a history page costs with and without reactions (reads, bytes, time).
        .executableTarget(
            name: "history-bench",
            dependencies: [
                "ChatCore", "ChatSQLiteStore", "ChatAWS", "AWSClients",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/History",
            swiftSettings: strict
        ),
        .testTarget(name: "ChatCoreTests", dependencies: ["ChatCore", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "ChatHandlersTests", dependencies: ["ChatCore", "ChatHandlers", "ChatSQLiteStore"], swiftSettings: strict),
        .testTarget(
            name: "ChatStoreTests",
            dependencies: [
                "ChatCore", "ChatSQLiteStore", "ChatAWS", "AWSClients", "TestSupport", .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ChatObservabilityTests",
            dependencies: [
                "ChatObservability", .product(name: "CoreMetrics", package: "swift-metrics"), .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "AWSClientsTests",
            dependencies: ["AWSClients", "ChatAWS", "ChatCore", "TestSupport"],
            exclude: ["aws-sigv4-suite", "botocore_signer.py", "flaky_server.py"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "LambdaRuntimeTests",
            dependencies: [
                "LambdaRuntime", "TestSupport", .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"), .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        // What several test targets share: moto's server, started on demand.
        .target(
            name: "TestSupport",
            dependencies: ["ChatCore", "ChatAWS", "AWSClients", .product(name: "Logging", package: "swift-log")],
            path: "Tests/Support",
            exclude: ["moto_server.py", "until_stdin_closes.py", "connections_stub.py", "runtime_api_stub.py", "stub_http.py"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "EndToEndTests",
            dependencies: [
                "ChatCore", "ChatHandlers", "ChatSQLiteStore", "ChatLocalGateway", "ChatClient", "chatroom", "bootstrap", "ChatAWS", "AWSClients",
                "TestSupport",
                .product(name: "WSClient", package: "swift-websocket"),
                .product(name: "WSCore", package: "swift-websocket"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
    ]
)
