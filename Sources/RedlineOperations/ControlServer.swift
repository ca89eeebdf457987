import Dispatch
import Foundation
import Logging
import NIOCore
import NIOPosix
import Redline
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The control socket: a Unix domain socket speaking one JSON request per
/// line (`ControlProtocol.swift`).
enum ControlServer {
    /// Deeper requests are refused before any parse (a command's deepest,
    /// `limits set` of a rule table, is a few levels).
    static let maxRequestDepth = 32
    /// A refused request's bad number is looked for by key only up to this size.
    static let namedSearchBytes = 4096

    static func bind(path: String, configuration: OperationsEndpoint.Configuration, commands: OperatorCommands,
                     group: MultiThreadedEventLoopGroup, logger: Logger) throws -> any Channel {
        try refuseIfLive(path)
        let gid: gid_t?
        if let name = configuration.socketGroup {
            guard let entry = getgrnam(name) else {
                throw RedlineError.invalidInput("operations.socketGroup: no group named \"\(name)\"")
            }
            gid = entry.pointee.gr_gid
        } else {
            gid = nil
        }
        // Bound under a temporary name, given its mode and group, then renamed
        // into place: the socket is never reachable with looser permissions.
        let staging = "\(path).\(getpid()).tmp"
        unlink(staging)
        let limit = ConnectionLimit(maximum: configuration.maxConnections)
        let queue = DispatchQueue(label: "redline.operations.commands") // one command at a time, in arrival order
        let authorized = Set(configuration.authorizedUIDs ?? [getuid(), 0])
        let operators = Set(configuration.operators)
        let channel = try ServerBootstrap(group: group)
            // A client that half-closes after its request (socat does) still gets its answer.
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ControlHandler(
                        commands: commands, operators: operators, operatorUIDs: configuration.operatorUIDs,
                        authorizedUIDs: authorized, authorizedGID: gid,
                        maxRequestBytes: configuration.maxRequestBytes,
                        timeout: .nanoseconds(Int64(configuration.requestTimeoutSeconds * 1e9)),
                        limit: limit, queue: queue, logger: logger))
                }
            }
            .bind(unixDomainSocketPath: staging).wait()
        do {
            guard chmod(staging, mode_t(configuration.socketMode)) == 0 else {
                throw RedlineError.system(errno: errno, operation: "chmod \(staging)")
            }
            if let gid, chown(staging, getuid(), gid) != 0 {
                throw RedlineError.system(errno: errno, operation: "chown \(staging) to group \(configuration.socketGroup ?? "")")
            }
            guard rename(staging, path) == 0 else { throw RedlineError.system(errno: errno, operation: "rename to \(path)") }
        } catch {
            try? channel.close().wait()
            unlink(staging)
            throw error
        }
        return channel
    }

    /// Another endpoint listening on `path` keeps it: never take a live socket over.
    private static func refuseIfLive(_ path: String) throws {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        guard info.st_mode & S_IFMT == S_IFSOCK else {
            throw RedlineError.invalidInput("operations.controlSocketPath \(path) exists and is not a socket")
        }
        // A connect that succeeds: someone answers there.
        if let fd = try? ControlClient(path: path, timeoutSeconds: 1).connectSocket() {
            close(fd)
            throw RedlineError.invalidInput("operations.controlSocketPath \(path): another endpoint is listening there")
        }
    }
}

final class ConnectionLimit: Sendable {
    let maximum: Int
    private let open = Atomic<Int>(0)

    init(maximum: Int) { self.maximum = maximum }

    func take() -> Bool {
        // relaxed: a count of connections, no data is published through it.
        if open.wrappingAdd(1, ordering: .relaxed).newValue > maximum {
            open.wrappingSubtract(1, ordering: .relaxed)
            return false
        }
        return true
    }

    /// Count one more whatever the limit: a place taken over from a
    /// connection being closed, which gives it back.
    func takeOver() { open.wrappingAdd(1, ordering: .relaxed) } // relaxed: as in take

    func give() { open.wrappingSubtract(1, ordering: .relaxed) }
}

/// One connection: frames lines, admits or refuses each request, runs it on
/// the command queue (a freeze on a thread of its own), answers in order.
final class ControlHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let commands: OperatorCommands
    private let operators: Set<String>
    private let operatorUIDs: [String: UInt32]
    private let authorizedUIDs: Set<UInt32>
    private let authorizedGID: gid_t?
    private let maxRequestBytes: Int
    private let timeout: TimeAmount
    private let limit: ConnectionLimit
    private let queue: DispatchQueue
    private let logger: Logger

    private var pending: ByteBuffer?
    private var peer: PeerCredentials?
    private var counted = false
    private var busy = false
    private var closing = false
    private var refusedLines = 0
    private var inputClosed = false
    private var deadline: Scheduled<Void>?

    init(commands: OperatorCommands, operators: Set<String>, operatorUIDs: [String: UInt32], authorizedUIDs: Set<UInt32>,
         authorizedGID: gid_t?, maxRequestBytes: Int, timeout: TimeAmount, limit: ConnectionLimit, queue: DispatchQueue,
         logger: Logger) {
        self.commands = commands
        self.operators = operators
        self.operatorUIDs = operatorUIDs
        self.authorizedUIDs = authorizedUIDs
        self.authorizedGID = authorizedGID
        self.maxRequestBytes = maxRequestBytes
        self.timeout = timeout
        self.limit = limit
        self.queue = queue
        self.logger = logger
    }

    func channelActive(context: ChannelHandlerContext) {
        guard limit.take() else {
            refuseAndClose(context, .refused("?", .busy,
                                             "too many control connections (\(limit.maximum)); try again"))
            return
        }
        counted = true
        guard let provider = context.channel as? any SocketOptionProvider else {
            refuseAndClose(context, .refused("?", .unauthorized, "the peer's credentials cannot be read (SO_PEERCRED)"))
            return
        }
        let credentials: EventLoopFuture<PeerCredentials> = provider.unsafeGetSocketOption(
            level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_PEERCRED))
        credentials.assumeIsolated().whenComplete { result in
            switch result {
            case .success(let peer) where self.authorizedUIDs.contains(peer.uid) || self.authorizedGID == peer.gid:
                self.peer = peer
                self.arm(context)
                self.next(context)
            case .success(let peer):
                self.logger.warning("control connection refused: unauthorized uid",
                                    metadata: ["uid": "\(peer.uid)", "pid": "\(peer.pid)"])
                self.refuseAndClose(context, .refused("?", .unauthorized, "uid \(peer.uid) may not use this control socket"))
            case .failure(let error):
                self.refuseAndClose(context, .refused("?", .unauthorized,
                                                      "the peer's credentials cannot be read (SO_PEERCRED): \(error)"))
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        if counted { limit.give() }
        counted = false
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        var bytes = unwrapInboundIn(data)
        if pending == nil { pending = bytes } else { pending!.writeBuffer(&bytes) }
        // Reading stops while a command runs (below), so what waits here is
        // bounded: a client that pipelines faster than it reads is refused.
        if pending!.readableBytes > 2 * maxRequestBytes {
            refuseAndClose(context, .refused("?", .oversized,
                "more than \(2 * maxRequestBytes) bytes waiting unanswered: refused, nothing more is read"))
            return
        }
        next(context)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            // The client has said all it will: its last request needs no
            // newline (`printf '{…}' | socat`), so what is left is a line too
            // (helper-34: it was dropped, unanswered). Answer, then close.
            inputClosed = true
            if var buffer = pending, buffer.readableBytes > 0,
               buffer.readableBytesView.last != UInt8(ascii: "\n") {
                buffer.writeInteger(UInt8(ascii: "\n"))
                pending = buffer
            }
            next(context)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// With the client's input closed and nothing left to answer, close.
    private func closeIfDone(_ context: ChannelHandlerContext) {
        guard inputClosed, !busy, !closing else { return }
        let whole = pending?.readableBytesView.contains(UInt8(ascii: "\n")) ?? false
        if !whole { context.close(promise: nil) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    /// Take the whole lines waiting, one after another, until a command runs
    /// or none is left. A loop, not a call per line: refusals are answered
    /// here at once, and answering each by calling back in recursed once per
    /// waiting line (2,000 pipelined refused lines overflowed the event
    /// loop's stack and killed the process).
    private func next(_ context: ChannelHandlerContext) {
        while takeLine(context) {}
        closeIfDone(context)
    }

    /// Take one whole line, if no command is running: true when it was
    /// answered at once (take the next), false when a command runs or
    /// nothing more can be taken now.
    private func takeLine(_ context: ChannelHandlerContext) -> Bool {
        guard !busy, !closing, peer != nil, var buffer = pending else { return false }
        // A connection that keeps sending refused lines is closed: it only
        // costs the endpoint, and fills the audit trail.
        guard refusedLines < Self.maxRefusedLines else {
            refuseAndClose(context, .refused("?", .busy,
                "more than \(Self.maxRefusedLines) refused requests on this connection: closed, nothing more is read"))
            return false
        }
        let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n"))
        guard let newline else {
            if buffer.readableBytes > maxRequestBytes {
                refuseAndClose(context, .refused("?", .oversized,
                    "request over \(maxRequestBytes) bytes without a newline: refused, nothing changed"))
            }
            return false
        }
        let length = newline - buffer.readerIndex
        let line = buffer.readSlice(length: length)!
        buffer.moveReaderIndex(forwardBy: 1)
        pending = buffer.readableBytes > 0 ? buffer : nil
        if length > maxRequestBytes {
            refuseAndClose(context, .refused("?", .oversized, "request of \(length) bytes, over \(maxRequestBytes): refused, nothing changed"))
            return false
        }
        // Nested hundreds deep, a few KiB hold the one event loop for seconds in the parser.
        if NamedDecoding.nests(line.readableBytesView, deeperThan: ControlServer.maxRequestDepth) {
            return refuse(context, .refused("?", .malformed,
                "not a request: JSON nested deeper than \(ControlServer.maxRequestDepth) levels; nothing changed"))
        }
        // A key given twice is taken once by the decoder, the other dropped
        // unseen ("command":"status","command":"freeze"); a key it does not
        // know is dropped too (a misspelt "reason" or "last"). Both refused.
        if let key = NamedDecoding.duplicateKey(in: line.readableBytesView) {
            return refuse(context, .refused("?", .malformed, "not a request: key \"\(key)\" appears twice; nothing changed"))
        }
        if let unknown = ControlRequest.unknownKey(in: Data(line.readableBytesView)) {
            return refuse(context, .refused("?", .malformed,
                "not a request: unknown key \"\(unknown)\"; the keys are \(ControlRequest.keyNames.joined(separator: ", ")); nothing changed"))
        }
        let request: ControlRequest
        do {
            request = try NamedDecoding.decode(ControlRequest.self, from: Data(line.readableBytesView), using: ControlCodec.decoder,
                                               searchBytes: ControlServer.namedSearchBytes)
        } catch {
            return refuse(context, .refused("?", .malformed,
                "not a request: one JSON object per line, with \"operator\" and \"command\" (\(error))"))
        }
        guard OperationsEndpoint.Configuration.validOperator(request.operatorName), operators.contains(request.operatorName) else {
            let shown = String(request.operatorName.unicodeScalars.prefix(64).map { $0.isASCII && $0.value >= 0x20 ? Character($0) : "?" })
            logger.warning("control request refused: unknown operator",
                           metadata: ["operator": "\(shown)", "command": "\(request.command.prefix(64))",
                                      "uid": "\(peer?.uid ?? 0)"])
            return refuseOperator(context, request, as: shown, "unknown operator \"\(shown)\"",
                                  outcome: "refused: unknown operator")
        }
        // An operator bound to a uid speaks only from a process of that uid.
        if let bound = operatorUIDs[request.operatorName], let peer, peer.uid != bound {
            logger.warning("control request refused: operator from another uid",
                           metadata: ["operator": "\(request.operatorName)", "command": "\(request.command.prefix(64))",
                                      "uid": "\(peer.uid)", "operator_uid": "\(bound)"])
            return refuseOperator(context, request, as: request.operatorName,
                                  "operator \"\(request.operatorName)\" is bound to uid \(bound); this connection is uid \(peer.uid)",
                                  outcome: "refused: operator from another uid")
        }
        busy = true
        context.channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in }
        deadline?.cancel()
        let loop = context.eventLoop
        let bound = NIOLoopBound((self, context), eventLoop: loop)
        let commands = self.commands
        let peer = self.peer
        let received = Date() // read now, on the event loop: not when the queue gets to it
        let arrival = commands.arrivals.arrive(request)
        let run: @Sendable () -> Void = {
            let response = commands.handle(request, peer: peer, received: received, arrival: arrival)
            loop.execute {
                let (handler, context) = bound.value
                handler.busy = false
                context.channel.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in }
                handler.reply(context, response)
                handler.next(context)
            }
        }
        if request.command == "freeze" {
            // The kill switch waits behind nothing: not behind a command the
            // queue is running (an unfreeze or a limit waiting for a held-up
            // risk side, an audit record waiting for a slow journal), nor
            // behind another freeze, nor for a free worker of a shared pool:
            // a thread of its own (at most one per connection). An unfreeze
            // that arrived before it and runs after it is refused (CommandArrivals).
            Thread(block: run).start()
        } else {
            queue.async(execute: run)
        }
        return false
    }

    /// Write `response` and wait for the next request.
    private func reply(_ context: ChannelHandlerContext, _ response: ControlResponse) {
        guard context.channel.isActive else { return }
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: response.encodedLine())), promise: nil)
        arm(context)
    }

    /// Answer a refused line at once, and count it (`maxRefusedLines`).
    private func refuse(_ context: ChannelHandlerContext, _ response: ControlResponse) -> Bool {
        refusedLines += 1
        reply(context, response)
        return true
    }

    static let maxRefusedLines = 64

    /// Refuse a request whose operator may not act (unknown, or from another
    /// uid than the one it is bound to) as `name`: an attempt to change
    /// state is on the record even from a stranger.
    private func refuseOperator(_ context: ChannelHandlerContext, _ request: ControlRequest, as name: String,
                                _ why: String, outcome: String) -> Bool {
        var refusal = ControlResponse.refused(request.command, .unauthorized, why)
        if OperatorCommands.changesState(request.command) {
            commands.audit(request, peer: peer, arguments: ["reason": OperatorCommands.auditedReason(request.reason)],
                           outcome: outcome, into: &refusal, operatorName: name)
        }
        return refuse(context, refusal)
    }

    private func refuseAndClose(_ context: ChannelHandlerContext, _ response: ControlResponse) {
        closing = true
        pending = nil
        deadline?.cancel()
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(channel.allocator.buffer(bytes: response.encodedLine())))
            .whenComplete { _ in channel.close(promise: nil) }
    }

    /// The next request must arrive whole within the timeout.
    private func arm(_ context: ChannelHandlerContext) {
        deadline?.cancel()
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let seconds = Double(timeout.nanoseconds) / 1e9
        deadline = context.eventLoop.scheduleTask(in: timeout) {
            let (handler, context) = bound.value
            guard !handler.busy, !handler.closing else { return }
            handler.refuseAndClose(context, .refused("?", .timeout,
                "no whole request within \(seconds) s: connection closed, nothing changed"))
        }
    }
}
