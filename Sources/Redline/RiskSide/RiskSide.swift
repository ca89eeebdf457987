import Foundation
import Glibc
import Logging
import RedlineCore
import Synchronization

/// exchange events -> rings -> risk side. The rings every producer pushes
/// into, `drain()` (the risk side run on the calling thread), the hand-over
/// of the rings to a `RedlineRuntime` risk thread, and operator requests to
/// the engine's controller, which travel through a control ring like every
/// other event so that one thread at a time changes risk state.
final class RiskSide: @unchecked Sendable {
    let engine: OpaquePointer
    let numaNode: Int?
    let logger: Logger
    /// Every ring, in registration order; `lane`: a lane the risk thread
    /// serves first (rl_runtime.h).
    private let rings = Mutex<[(ring: EventRing, lane: Bool)]>([])
    /// Serialises the consumers of the rings: `drain()` callers, and the
    /// hand-over to and from a risk thread.
    /// pthread mutexes (NSLock), not Synchronization.Mutex: they guard C state
    /// with plain fields (the engine's, the rings' consumer side), and
    /// ThreadSanitizer sees the ordering a pthread mutex gives.
    private let consumerLock = NSLock()
    private let riskThreadActive = Atomic<Bool>(false)
    /// Orchestrator -> risk side: operator requests, position updates, edge reports, marks.
    private let controlRing: EventRing
    private let controlLock = NSLock()
    /// Request ids carry the top bit, so they never match an order id a C
    /// producer put on another ring.
    private let nextRequestID = Atomic<UInt64>(1 << 63)
    private let stepBatch: UInt64 = 256

    init(engine: OpaquePointer, numaNode: Int?, logger: Logger) throws(RedlineError) {
        self.engine = engine
        self.numaNode = numaNode
        self.logger = logger
        controlRing = try EventRing(capacity: 1024, numaNode: numaNode)
        // Its requests may be withdrawn by a requester that gave up (send).
        rl_engine_set_request_ring(engine, controlRing.pointer)
        // A lane: an operator's freeze overtakes any backlog of orders.
        rings.withLock { $0.append((controlRing, true)) }
    }

    /// A ring whose consumer is the risk side. Rings are registered with a
    /// runtime when it starts.
    /// With `lane`, a lane: served before every data ring, and between
    /// every few events of them (freeze-critical events: an edge report).
    func makeRing(capacity: Int, lane: Bool = false) throws(RedlineError) -> EventRing {
        guard !hasRiskThread else {
            throw .runtime("rings are registered when the risk thread starts: create routers before RedlineRuntime.start()")
        }
        let ring = try EventRing(capacity: capacity, numaNode: numaNode)
        rings.withLock { $0.append((ring, lane)) }
        return ring
    }

    /// Every ring made so far, in registration order (the control ring first).
    var allRings: [(ring: EventRing, lane: Bool)] { rings.withLock { $0 } }

    var hasRiskThread: Bool { riskThreadActive.load(ordering: .acquiring) }

    /// Hand the rings to a risk thread (`body` starts it) or take them back
    /// (`body` has stopped it), with no `drain()` in progress meanwhile.
    func handOverRings<T>(toRiskThread active: Bool, _ body: () throws(RedlineError) -> T) throws(RedlineError) -> T {
        try consumerLock.locked { () throws(RedlineError) -> T in
            if active { riskThreadActive.store(true, ordering: .releasing) }
            do throws(RedlineError) {
                let result = try body()
                if !active { riskThreadActive.store(false, ordering: .releasing) }
                return result
            } catch {
                if active { riskThreadActive.store(false, ordering: .releasing) }
                throw error
            }
        }
    }

    /// Apply every event waiting in every ring, on this thread. While a risk
    /// thread runs it owns the rings, and this does nothing.
    func drain() -> DrainReport {
        var report = DrainReport()
        consumerLock.locked {
            guard !hasRiskThread else { return }
            let all = allRings
            // Counted over the whole drain: a step that applies nothing still
            // ticks, and may take a halt made outside in (a router's
            // unrecordable fill, an edge collapse).
            let changesBefore = rl_engine_state_change_count(engine)
            // Lanes first, as the risk thread serves them (two passes: no array built, no allocation).
            for pass in 0..<2 {
                for (ring, lane) in all where lane == (pass == 0) {
                    var step = rl_step_result_t()
                    while rl_engine_step(engine, ring.pointer, stepBatch, &step) > 0 {
                        report.applied += Int(step.applied)
                        report.invalid += Int(step.invalid)
                    }
                }
            }
            report.stateChanges = Int(rl_engine_state_change_count(engine) &- changesBefore)
        }
        if report.invalid > 0 {
            logger.error("risk step skipped invalid events", metadata: ["count": "\(report.invalid)"])
        }
        return report
    }

    /// How long `send` waits, by default, for room in the control ring and
    /// for the risk side to take its event. The risk side takes nothing while
    /// a stalled journal holds it (backpressure): a request must not hold
    /// the caller, nor `controlLock` and every later request, until the
    /// device returns.
    static let takeBoundNanoseconds: UInt64 = 3_000_000_000
    static var takeBoundSeconds: Int { Int(takeBoundNanoseconds / 1_000_000_000) }

    /// Hand `event` to the risk side through the control ring and return once
    /// it has been applied (drained here without a risk thread, waited for
    /// with one, at most `boundNanoseconds`). With `answered`, the event gets
    /// a fresh request id, `before` sees it first, and the step's answer
    /// comes back: 0, or -errno / -rl_result_t. An answered request the risk
    /// side has not taken within the bound is withdrawn
    /// (`rl_engine_withdraw_request`): -ETIMEDOUT, and it never applies, however
    /// late the risk side reaches it. An unanswered event not taken within
    /// the bound returns -ETIMEDOUT and applies when taken.
    @discardableResult
    func send(_ event: rl_event_t, answered: Bool = false,
              boundNanoseconds: UInt64 = RiskSide.takeBoundNanoseconds, before: (Int64) -> Void = { _ in }) -> Int32 {
        controlLock.locked { () -> Int32 in
            var event = event
            if answered {
                event.order_id = nextRequestID.add(1, ordering: .relaxed).oldValue
                before(Int64(bitPattern: event.order_id))
                rl_engine_expect_request(engine, event.order_id)
            }
            let deadline = rl_clock_ns() + boundNanoseconds
            while controlRing.push(&event) == RL_FULL {
                guard hasRiskThread else {
                    _ = drain()
                    continue
                }
                guard rl_clock_ns() < deadline else {
                    // Never pushed: nothing can apply it.
                    if answered { _ = rl_engine_withdraw_request(engine, event.order_id) }
                    notTaken(event, answered: answered, pushed: false)
                    return -ETIMEDOUT
                }
                sched_yield()
            }
            rl_engine_knock(engine) // a lane: the risk thread serves it before the rest of its batch
            let pushed = controlRing.pushedCount
            while hasRiskThread && controlRing.consumedCount < pushed {
                if rl_clock_ns() >= deadline {
                    guard answered else {
                        notTaken(event, answered: false, pushed: true)
                        return -ETIMEDOUT
                    }
                    break // withdrawn below, unless the risk side took it
                }
                sched_yield()
            }
            if controlRing.consumedCount < pushed { _ = drain() }
            guard answered else { return 0 }
            if rl_engine_last_request_id(engine) != event.order_id {
                // No answer: not taken within the bound, a drain the journal
                // held back, or a risk thread starting meanwhile. Withdrawn,
                // it cannot apply after its requester was told it did not.
                if rl_engine_withdraw_request(engine, event.order_id) {
                    notTaken(event, answered: true, pushed: true)
                    return -ETIMEDOUT
                }
                // The risk side took it: its answer follows.
                while hasRiskThread && rl_engine_last_request_id(engine) != event.order_id
                    && controlRing.consumedCount < pushed { sched_yield() }
                if controlRing.consumedCount < pushed { _ = drain() }
                guard rl_engine_last_request_id(engine) == event.order_id else {
                    logger.error("a control request's answer was overwritten by another ring's request")
                    return -EPROTO
                }
            }
            return rl_engine_last_request_result(engine)
        }
    }

    private func notTaken(_ event: rl_event_t, answered: Bool, pushed: Bool) {
        logger.error("the risk side did not take a request within its bound: it is held up (a journal whose device stopped completing holds it)", metadata: [
            "event_type": "\(event.type)", "control": "\(event.side)",
            "outcome": "\(answered ? "withdrawn: it will not apply" : pushed ? "queued: it applies when taken" : "not queued")"])
    }

    /// An operator request to the controller (rl_control_t). `before` sees
    /// its request id, which the controller's record of it carries.
    func request(_ control: rl_control_t, symbol: UInt32 = RL_SYMBOL_NONE, value: Int64 = 0, field: Int64 = 0,
                 price: Int64 = 0, boundNanoseconds: UInt64 = RiskSide.takeBoundNanoseconds,
                 before: (Int64) -> Void = { _ in }) -> Int32 {
        var event = rl_event_t(type: RL_EVENT_CONTROL, symbol: symbol, value: value)
        event.qty = field  // RL_CONTROL_STAGE_ORDER_RULE: which rule field; RL_CONTROL_SET_BREAKER: max cooldown
        event.price = price
        event.side = UInt8(control.rawValue)
        return send(event, answered: true, boundNanoseconds: boundNanoseconds, before: before)
    }

    /// What a caller throws for a request the risk side did not take
    /// (-ETIMEDOUT from `send`): withdrawn, it will not apply.
    static func notTakenError(_ what: String) -> RedlineError {
        .system(errno: ETIMEDOUT, operation: "\(what): the risk side did not take it within \(takeBoundSeconds) s (held up: is the journal stalled?); withdrawn, it does not apply")
    }

    /// Run `body` as the risk side, on this thread: only while no risk thread
    /// runs, with no `drain()` in progress.
    func exclusively<T>(_ body: () throws(RedlineError) -> T) throws(RedlineError) -> T {
        try consumerLock.locked { () throws(RedlineError) -> T in
            guard !hasRiskThread else { throw .runtime("stop the risk thread first") }
            return try body()
        }
    }
}

/// What one `drain()` did.
public struct DrainReport: Sendable, Equatable {
    public var applied = 0
    public var invalid = 0
    /// Trading-state changes the controller published meanwhile.
    public var stateChanges = 0
}

/// A value under an NSLock (a pthread mutex, which ThreadSanitizer
/// understands, where Synchronization.Mutex's futex is opaque to it).
final class PthreadLocked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    func withLock<R, E: Error>(_ body: (inout Value) throws(E) -> R) throws(E) -> R {
        try lock.locked { () throws(E) -> R in try body(&value) }
    }
}

extension NSLock {
    /// `body` under the lock, with typed throws.
    func locked<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        lock()
        defer { unlock() }
        return try body()
    }
}
