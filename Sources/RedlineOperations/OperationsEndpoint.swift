import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Redline
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The operator's way into a strategy process: `/metrics` over HTTP for
/// Prometheus, and a control socket (a Unix domain socket) for freeze,
/// unfreeze, limits, what-if, orders and events. Start it with one call next
/// to the runtime:
///
///     let operations = try OperationsEndpoint.start(monitor: runtime.monitor,
///         configuration: .init(controlSocketPath: "/run/redline/ctl.sock", operators: ["alice"]))
///
/// It runs on its own event loop thread, and commands run one at a time on
/// their own queue: it never touches the order path, and reaches the engine
/// only through the monitor's thread-safe API (a freeze is the controller's
/// atomic store; each router cancels its own orders at its next poll).
///
/// Access control, in order: the socket file's mode (0600 by default, or
/// 0660 with `socketGroup`); the peer's uid (SO_PEERCRED), which must be an
/// authorized uid; and the operator named in the request, which must be a
/// configured operator. A request that fails any of them, or is malformed,
/// oversized or too slow, is refused with a reason and changes nothing.
public final class OperationsEndpoint: Sendable {
    public struct Configuration: Sendable, Codable, Equatable {
        /// Where `/metrics` listens: loopback by default. nil: no HTTP.
        public var metricsHost: String?
        /// 0: any free port (read it back from `metricsPort`).
        public var metricsPort: Int
        /// The control socket's path; nil: no control socket.
        public var controlSocketPath: String?
        /// The socket file's mode: 0600 by default; group bits only with
        /// `socketGroup`; never any bit for others.
        public var socketMode: UInt16
        /// A group whose members may connect (mode 0660 then).
        public var socketGroup: String?
        /// The operators who may send commands, by name.
        public var operators: [String]
        /// Operators bound to a uid: such a name is taken only from a process
        /// of that uid (the socket's SO_PEERCRED), so another user allowed on
        /// the socket cannot act, and be journaled, under it. Operators not
        /// named here are taken from any authorized process.
        public var operatorUIDs: [String: UInt32]
        /// The uids whose processes may connect; nil: this process's own uid
        /// (and root). With `socketGroup`, a process whose primary group is
        /// that group may connect too.
        public var authorizedUIDs: [UInt32]?
        /// A request line longer than this is refused and the connection closed.
        public var maxRequestBytes: Int
        /// A request that has not arrived whole within this is refused and the
        /// connection closed (a slow or idle client holds nothing).
        public var requestTimeoutSeconds: Double
        /// Connections at once; more are refused.
        public var maxConnections: Int
        /// Put before every metric name (Prometheus' convention: the program's name).
        public var metricPrefix: String

        public init(metricsHost: String? = "127.0.0.1", metricsPort: Int = 9464, controlSocketPath: String? = nil,
                    socketMode: UInt16 = 0o600, socketGroup: String? = nil, operators: [String] = [],
                    operatorUIDs: [String: UInt32] = [:], authorizedUIDs: [UInt32]? = nil, maxRequestBytes: Int = 64 * 1024, requestTimeoutSeconds: Double = 5,
                    maxConnections: Int = 16, metricPrefix: String = "redline_") {
            self.metricsHost = metricsHost
            self.metricsPort = metricsPort
            self.controlSocketPath = controlSocketPath
            self.socketMode = socketMode
            self.socketGroup = socketGroup
            self.operators = operators
            self.operatorUIDs = operatorUIDs
            self.authorizedUIDs = authorizedUIDs
            self.maxRequestBytes = maxRequestBytes
            self.requestTimeoutSeconds = requestTimeoutSeconds
            self.maxConnections = maxConnections
            self.metricPrefix = metricPrefix
        }

        /// Every setting checked, with the setting's name in the error.
        public func validate() throws(RedlineError) {
            if let host = metricsHost, host.isEmpty { throw .invalidInput("operations.metricsHost is empty") }
            guard (0...65_535).contains(metricsPort) else {
                throw .invalidInput("operations.metricsPort must be 0...65535, got \(metricsPort)")
            }
            if let path = controlSocketPath {
                // sun_path holds 108 bytes, and the socket is bound first as "<path>.<pid>.tmp".
                guard !path.isEmpty, path.utf8.count <= Self.maxSocketPathBytes else {
                    throw .invalidInput("operations.controlSocketPath must be 1 to \(Self.maxSocketPathBytes) bytes, got \(path.utf8.count)")
                }
                guard !operators.isEmpty else {
                    throw .invalidInput("operations.operators is empty: a control socket needs at least one operator")
                }
            }
            guard socketMode & 0o007 == 0 else {
                throw .invalidInput("operations.socketMode \(String(socketMode, radix: 8)) lets any user connect: "
                    + "others may have no access (use 0600, or 0660 with socketGroup)")
            }
            guard socketMode & 0o070 == 0 || socketGroup != nil else {
                throw .invalidInput("operations.socketMode \(String(socketMode, radix: 8)) opens the socket to its group: "
                    + "name the group (socketGroup)")
            }
            guard socketMode & 0o600 == 0o600 else {
                throw .invalidInput("operations.socketMode \(String(socketMode, radix: 8)) must let its owner read and write")
            }
            for name in operators where !Self.validOperator(name) {
                throw .invalidInput("operations.operators: \"\(name)\" is not a valid name (1-64 of A-Z a-z 0-9 . _ -)")
            }
            for name in operatorUIDs.keys.sorted() where !operators.contains(name) {
                throw .invalidInput("operations.operatorUIDs names \"\(name)\", who is not in operations.operators")
            }
            // (uid_t)-1 is no one's uid: the kernel uses it for "no change" and "overflow".
            for (name, uid) in operatorUIDs.sorted(by: { $0.key < $1.key }) where uid == UInt32.max {
                throw .invalidInput("operations.operatorUIDs.\(name) is \(uid), which is no user's uid")
            }
            if let uid = authorizedUIDs?.first(where: { $0 == UInt32.max }) {
                throw .invalidInput("operations.authorizedUIDs holds \(uid), which is no user's uid")
            }
            // A request's reason goes into journal records of at most 1 MiB.
            guard (256...(512 * 1024)).contains(maxRequestBytes) else {
                throw .invalidInput("operations.maxRequestBytes must be 256...524288, got \(maxRequestBytes)")
            }
            guard requestTimeoutSeconds >= 0.05, requestTimeoutSeconds <= 3600 else {
                throw .invalidInput("operations.requestTimeoutSeconds must be 0.05...3600, got \(requestTimeoutSeconds)")
            }
            guard (1...1024).contains(maxConnections) else {
                throw .invalidInput("operations.maxConnections must be 1...1024, got \(maxConnections)")
            }
            guard metricPrefix.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == ":") }),
                  metricPrefix.first.map({ !$0.isNumber }) ?? true else {
                throw .invalidInput("operations.metricPrefix \"\(metricPrefix)\" is not a Prometheus name prefix")
            }
        }

        /// The longest control socket path (sun_path less room for the temporary name).
        public static let maxSocketPathBytes = 90

        /// Any setting left out takes its default.
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let d = Configuration()
            self.init(
                metricsHost: c.contains(.metricsHost) ? try c.decodeIfPresent(String.self, forKey: .metricsHost) : d.metricsHost,
                metricsPort: try c.decodeIfPresent(Int.self, forKey: .metricsPort) ?? d.metricsPort,
                controlSocketPath: try c.decodeIfPresent(String.self, forKey: .controlSocketPath),
                socketMode: try c.decodeIfPresent(UInt16.self, forKey: .socketMode) ?? d.socketMode,
                socketGroup: try c.decodeIfPresent(String.self, forKey: .socketGroup),
                operators: try c.decodeIfPresent([String].self, forKey: .operators) ?? d.operators,
                operatorUIDs: try c.decodeIfPresent([String: UInt32].self, forKey: .operatorUIDs) ?? d.operatorUIDs,
                authorizedUIDs: try c.decodeIfPresent([UInt32].self, forKey: .authorizedUIDs),
                maxRequestBytes: try c.decodeIfPresent(Int.self, forKey: .maxRequestBytes) ?? d.maxRequestBytes,
                requestTimeoutSeconds: try c.decodeIfPresent(Double.self, forKey: .requestTimeoutSeconds) ?? d.requestTimeoutSeconds,
                maxConnections: try c.decodeIfPresent(Int.self, forKey: .maxConnections) ?? d.maxConnections,
                metricPrefix: try c.decodeIfPresent(String.self, forKey: .metricPrefix) ?? d.metricPrefix)
        }

        private enum CodingKeys: String, CodingKey, CaseIterable {
            case metricsHost, metricsPort, controlSocketPath, socketMode, socketGroup, operators, operatorUIDs, authorizedUIDs
            case maxRequestBytes, requestTimeoutSeconds, maxConnections, metricPrefix
        }

        /// The settings' names, as a config file spells them.
        public static var fieldNames: Set<String> { Set(CodingKeys.allCases.map(\.stringValue)) }

        /// ASCII letters, digits, `.`, `_`, `-`: compared byte for byte, so no
        /// Unicode look-alike (a Kelvin sign for a K) passes for a configured name.
        static func validOperator(_ name: String) -> Bool {
            !name.isEmpty && name.utf8.count <= 64 && name.utf8.allSatisfy { byte in
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                    || byte == 0x2E || byte == 0x5F || byte == 0x2D
            }
        }
    }

    public let configuration: Configuration
    public let monitor: RuntimeRiskMonitor
    /// The port `/metrics` is bound to (the configured one, or the one picked for 0).
    public let metricsPort: Int?
    private let group: MultiThreadedEventLoopGroup
    private let channels: [any Channel]
    private let logger: Logger

    /// Bind and serve. Throws with the setting or the system call that failed.
    public static func start(monitor: RuntimeRiskMonitor, configuration: Configuration,
                             logger: Logger = Logger(label: "redline.operations")) throws(RedlineError) -> OperationsEndpoint {
        try configuration.validate()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var channels: [any Channel] = []
        do {
            var port: Int?
            if let host = configuration.metricsHost {
                let http: any Channel
                do {
                    http = try MetricsServer.bind(
                        host: host, port: configuration.metricsPort, group: group,
                        limit: ConnectionLimit(maximum: configuration.maxConnections),
                        timeout: .nanoseconds(Int64(configuration.requestTimeoutSeconds * 1e9)),
                        render: { MetricHelp.prefixed(monitor.prometheusText(), prefix: configuration.metricPrefix) })
                } catch {
                    throw RedlineError.invalidInput("operations.metricsHost/metricsPort \(host):\(configuration.metricsPort): \(error)")
                }
                channels.append(http)
                port = http.localAddress?.port
            }
            if let path = configuration.controlSocketPath {
                let commands = OperatorCommands(monitor: monitor)
                do {
                    channels.append(try ControlServer.bind(path: path, configuration: configuration, commands: commands,
                                                           group: group, logger: logger))
                } catch let error as RedlineError {
                    throw error
                } catch {
                    throw RedlineError.invalidInput("operations.controlSocketPath \(path): \(error)")
                }
            }
            logger.notice("operations endpoint started", metadata: [
                "metrics": "\(configuration.metricsHost.map { "http://\($0):\(port ?? 0)/metrics" } ?? "off")",
                "control_socket": "\(configuration.controlSocketPath ?? "off")",
                "operators": "\(configuration.operators.joined(separator: ","))"])
            return OperationsEndpoint(configuration: configuration, monitor: monitor, metricsPort: port, group: group,
                                      channels: channels, logger: logger)
        } catch {
            for channel in channels { try? channel.close().wait() }
            try? group.syncShutdownGracefully()
            if let error = error as? RedlineError { throw error }
            throw .runtime("operations endpoint: \(error)")
        }
    }

    private init(configuration: Configuration, monitor: RuntimeRiskMonitor, metricsPort: Int?,
                 group: MultiThreadedEventLoopGroup, channels: [any Channel], logger: Logger) {
        self.configuration = configuration
        self.monitor = monitor
        self.metricsPort = metricsPort
        self.group = group
        self.channels = channels
        self.logger = logger
    }

    /// Stop listening, close every connection, remove the socket file.
    public func shutdown() {
        for channel in channels { try? channel.close().wait() }
        try? group.syncShutdownGracefully()
        if let path = configuration.controlSocketPath { unlink(path) }
    }
}

/// The peer process of a control connection, from SO_PEERCRED.
public struct PeerCredentials: Sendable, Equatable {
    public var pid: Int32
    public var uid: UInt32
    public var gid: UInt32
}

// MARK: /metrics over HTTP (SwiftNIO's HTTP/1 codec)

/// One request per connection (each answer closes it, so a client that
/// pipelines requests without reading holds no memory here), at most
/// `limit` connections, and a request must arrive within `timeout`. At the
/// limit, a new connection closes the oldest one that has not sent a whole
/// request yet, instead of being turned away: /metrics has no
/// authentication, and 16 idle connections from any local user once made
/// every scrape fail (helper-34), where a scraper sends its request at once.
enum MetricsServer {
    static func bind(host: String, port: Int, group: MultiThreadedEventLoopGroup, limit: ConnectionLimit,
                     timeout: TimeAmount, render: @escaping @Sendable () -> String) throws -> any Channel {
        let waiting = WaitingConnections()
        return try ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(
                        MetricsHandler(render: render, limit: limit, timeout: timeout, waiting: waiting))
                }
            }
            .bind(host: host, port: port).wait()
    }
}

/// The open /metrics connections that have not sent a whole request, oldest
/// first. Touched only on the endpoint's one event loop (its group has one
/// thread), hence unchecked.
final class WaitingConnections: @unchecked Sendable {
    private var channels: [(id: ObjectIdentifier, channel: any Channel)] = []

    func add(_ channel: any Channel) { channels.append((ObjectIdentifier(channel), channel)) }

    func remove(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        channels.removeAll { $0.id == id }
    }

    /// Close the oldest; false when none waits.
    func closeOldest() -> Bool {
        guard !channels.isEmpty else { return false }
        let oldest = channels.removeFirst()
        oldest.channel.close(promise: nil)
        return true
    }
}

final class MetricsHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let render: @Sendable () -> String
    private let limit: ConnectionLimit
    private let timeout: TimeAmount
    private var head: HTTPRequestHead?
    private var counted = false
    private var answered = false
    private var deadline: Scheduled<Void>?
    private let waiting: WaitingConnections

    init(render: @escaping @Sendable () -> String, limit: ConnectionLimit, timeout: TimeAmount, waiting: WaitingConnections) {
        self.render = render
        self.limit = limit
        self.timeout = timeout
        self.waiting = waiting
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if limit.take() {
            counted = true
        } else if waiting.closeOldest() {
            // Its place: counted over the limit until its close gives it back (on this loop, at once).
            limit.takeOver()
            counted = true
        } else {
            context.close(promise: nil) // every connection is being answered: refused
            return
        }
        let channel = context.channel
        waiting.add(channel)
        deadline = context.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        waiting.remove(context.channel)
        if counted { limit.give() }
        counted = false
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let request): head = request
        case .body: break
        case .end:
            guard let request = head, !answered else { return }
            head = nil
            answered = true
            deadline?.cancel()
            waiting.remove(context.channel)
            let path = request.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? request.uri
            switch (request.method, path) {
            case (.GET, "/metrics"), (.HEAD, "/metrics"):
                respond(context, request, .ok, "text/plain; version=0.0.4; charset=utf-8", render(),
                        bodyless: request.method == .HEAD)
            case (_, "/metrics"):
                respond(context, request, .methodNotAllowed, "text/plain", "GET /metrics\n")
            default:
                respond(context, request, .notFound, "text/plain", "Redline serves /metrics\n")
            }
        }
    }

    private func respond(_ context: ChannelHandlerContext, _ request: HTTPRequestHead, _ status: HTTPResponseStatus,
                         _ type: String, _ body: String, bodyless: Bool = false) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: type)
        headers.add(name: "Content-Length", value: "\(body.utf8.count)")
        headers.add(name: "Connection", value: "close")
        let keepAlive = false
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: status, headers: headers))),
                      promise: nil)
        if !bodyless {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
        }
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            let channel = context.channel
            done.whenComplete { _ in channel.close(promise: nil) }
        }
    }
}
