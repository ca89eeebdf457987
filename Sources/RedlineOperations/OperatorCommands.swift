import Foundation
import Logging
import Redline
import RedlineCore
import Synchronization

/// What each control-socket command does, through the monitor's thread-safe
/// API only. Authorization is the endpoint's (`OperationsEndpoint`); this
/// type takes an admitted request and answers it. Every command that
/// changes state is journaled with the operator's identity
/// (`OperatorAction`), whether it changed anything or was refused.
public struct OperatorCommands: Sendable {
    public let monitor: RuntimeRiskMonitor
    /// The order requests arrived in, across connections.
    public let arrivals = CommandArrivals()

    public init(monitor: RuntimeRiskMonitor) {
        self.monitor = monitor
    }

    /// The commands, as `redline ctl` spells them.
    public static let names = ["status", "freeze", "unfreeze", "limits get", "limits set", "what-if", "orders", "events",
                               "release-strategy"]

    /// The commands that change state: journaled with the operator, refused ones included.
    public static func changesState(_ command: String) -> Bool {
        ["freeze", "unfreeze", "limits set", "release-strategy"].contains(command)
    }

    /// The longest reason taken (it goes into the journal, the log, the FreezeEvent).
    public static let maxReasonBytes = 4096

    /// When the request being handled arrived: its audit record's time, not
    /// the answer's (a change may wait seconds for a slow journal, and the
    /// requests behind it on the command queue with it).
    @TaskLocal static var received: Date?
    /// The request's place in the order of arrival (`arrivals`), if known.
    @TaskLocal static var arrival: UInt64?

    /// `received`: when the endpoint read the request (now if not given).
    /// `arrival`: its place in the order of arrival (`arrivals.arrive`), which
    /// lets a freeze that arrived after an unfreeze stand when the unfreeze
    /// runs later.
    public func handle(_ request: ControlRequest, peer: PeerCredentials?, received: Date = Date(),
                       arrival: UInt64? = nil) -> ControlResponse {
        Self.$received.withValue(received) {
            Self.$arrival.withValue(arrival) { handleNow(request, peer: peer) }
        }
    }

    private func handleNow(_ request: ControlRequest, peer: PeerCredentials?) -> ControlResponse {
        // Every command that changes state needs a reason, checked once here.
        var reason = ""
        if Self.changesState(request.command) {
            switch Self.reason(of: request) {
            case .success(let text): reason = text
            case .failure(let error): return refuse(request, peer: peer, .invalid, error.description)
            }
        }
        switch request.command {
        case "status": return status()
        case "freeze": return changeState(request, reason: reason, peer: peer, freeze: true)
        case "unfreeze": return changeState(request, reason: reason, peer: peer, freeze: false)
        case "limits get":
            var response = ControlResponse(ok: true, command: request.command)
            response.limits = monitor.limits
            if monitor.limitsInForceIndeterminate { response.message = Self.limitsMixNote }
            return response
        case "limits set": return setLimits(request, reason: reason, peer: peer)
        case "what-if": return whatIf(request)
        case "orders": return orders()
        case "events":
            if let last = request.last, last < 0 {
                return refuse(request, peer: peer, .invalid, "\"last\" must be 0 or more, got \(last)")
            }
            var response = ControlResponse(ok: true, command: request.command)
            let last = request.last ?? 50
            response.events = Array(monitor.freezeEvents.suffix(last))
            response.actions = Array(monitor.operatorActions.suffix(last))
            return response
        case "release-strategy": return releaseStrategy(request, reason: reason, peer: peer)
        default:
            return .refused(request.command, .unknownCommand,
                            "unknown command \"\(request.command)\"; the commands are: \(Self.names.joined(separator: ", "))")
        }
    }

    // MARK: Reading

    public func status() -> ControlResponse {
        _ = monitor.syncFreezeEvents()
        let state = monitor.tradingState
        let utilization = monitor.utilization()
        let symbols = monitor.allPositions.map { p in
            StatusReport.Symbol(symbol: p.symbol, position: p.quantity, workingBuy: p.workingBuy, workingSell: p.workingSell,
                                workingOrders: monitor.workingOrders(symbol: p.symbol), markPrice: p.markPrice,
                                exposureUSD: p.exposureUSD, limitUSD: p.limitUSD,
                                utilizationPercent: utilization.perSymbol[p.symbol] ?? 0)
        }
        let last = state.mode == .active ? nil : monitor.freezeEvents.last
        let halted = monitor.metrics.strategyOrders().map(\.strategy).filter { monitor.isStrategyHalted($0) }
        let report = StatusReport(
            mode: state.mode.rawValue, state: state.mode.metricValue, epoch: state.epoch,
            trigger: last?.trigger.rawValue, reason: last?.reason, bookExposureUSD: monitor.totalExposure,
            bookLimitUSD: monitor.limits.maxTotalNotional, bookUtilizationPercent: utilization.total, symbols: symbols,
            strategiesHalted: halted, journal: monitor.journal?.directory)
        var response = ControlResponse(ok: true, command: "status")
        response.status = report
        if monitor.limitsInForceIndeterminate { response.status?.limitsNote = Self.limitsMixNote }
        response.message = "trading is \(state.mode.rawValue.uppercased())"
        return response
    }

    /// Said by `limits get` and `status` while a limit change taken in part
    /// holds: the set they show is the last one taken whole.
    static let limitsMixNote = "these are the limits last set whole: a later change was taken in part, so the limits in force "
        + "are a mix of these and it (each symbol's limit in force is in status); trading stays HALTED until the limits are set again"

    func orders() -> ControlResponse {
        let symbols = monitor.allPositions.map { p in
            OrdersReport.Symbol(symbol: p.symbol, workingOrders: monitor.workingOrders(symbol: p.symbol),
                                workingBuy: p.workingBuy, workingSell: p.workingSell)
        }
        var response = ControlResponse(ok: true, command: "orders")
        response.orders = OrdersReport(strategies: monitor.metrics.strategyOrders(), symbols: symbols,
                                       inDoubt: monitor.ordersInDoubt.count)
        return response
    }

    func whatIf(_ request: ControlRequest) -> ControlResponse {
        guard let order = request.order else {
            return .refused(request.command, .invalid, "what-if needs an order: {\"symbol\",\"side\",\"qty\",\"price\"}")
        }
        let side: Side
        switch order.side.lowercased() {
        case "buy": side = .buy
        case "sell": side = .sell
        default: return .refused(request.command, .invalid, "side must be buy or sell, got \"\(order.side)\"")
        }
        var response = ControlResponse(ok: true, command: request.command)
        response.simulation = monitor.simulateOrder(symbol: order.symbol, side: side, qty: order.qty, price: order.price)
        return response
    }

    // MARK: Changing state (journaled with the operator)

    /// The request's reason, or why it is refused: none, too long, or with
    /// control characters (which would forge lines in a text log).
    static func reason(of request: ControlRequest) -> Result<String, RedlineError> {
        guard let reason = request.reason?.trimmingCharacters(in: .whitespacesAndNewlines), !reason.isEmpty else {
            return .failure(.invalidInput("\(request.command) needs a reason (--reason)"))
        }
        guard reason.utf8.count <= Self.maxReasonBytes else {
            return .failure(.invalidInput("the reason is \(reason.utf8.count) bytes; at most \(Self.maxReasonBytes)"))
        }
        guard !reason.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            return .failure(.invalidInput("the reason has control characters (a newline, an escape): one line of text"))
        }
        return .success(reason)
    }

    /// Refuse a state-changing request, on the record.
    private func refuse(_ request: ControlRequest, peer: PeerCredentials?, _ refusal: ControlRefusal, _ why: String,
                        arguments: [String: String] = [:]) -> ControlResponse {
        var response = ControlResponse.refused(request.command, refusal, why)
        var arguments = arguments
        if arguments["reason"] == nil { arguments["reason"] = Self.auditedReason(request.reason) }
        audit(request, peer: peer, arguments: arguments, outcome: "refused: \(why)", into: &response)
        return response
    }

    /// A refused request's reason as the audit trail keeps it: at most
    /// `maxReasonBytes`, control characters (those `reason(of:)` refuses)
    /// replaced, so a refused request cannot write lines that look like
    /// others into the trail or the log.
    static func auditedReason(_ reason: String?) -> String {
        var kept = ""
        for scalar in (reason ?? "").unicodeScalars {
            let shown = scalar.properties.generalCategory == .control ? "?" : String(scalar)
            guard kept.utf8.count + shown.utf8.count <= maxReasonBytes else { break }
            kept += shown
        }
        return kept
    }

    /// What a change by an operator carries into its FreezeEvent or record.
    private func provenance(_ request: ControlRequest) -> [String: String] {
        ["operator": request.operatorName, "via": "control_socket"]
    }

    private func changeState(_ request: ControlRequest, reason: String, peer: PeerCredentials?, freeze: Bool) -> ControlResponse {
        let metadata = provenance(request)
        // The pulls before the arrivals: a freeze is numbered on arrival
        // before it pulls, so a pull this count includes is a freeze the
        // check below sees, and one it does not, the unfreeze does not lift.
        let pullsSeen = monitor.killSwitchPulls
        if !freeze, let arrival = Self.arrival, let freezeArrival = arrivals.freeze(after: arrival) {
            // The freeze ran at once on the kill-switch lane; this unfreeze
            // waited in the command queue. The later command wins: the halt stays.
            return refuse(request, peer: peer, .failed,
                          "the halt stays: a freeze arrived after this unfreeze (request \(freezeArrival), this one \(arrival)) and ran first; unfreeze again to lift it",
                          arguments: ["reason": reason, "state": monitor.tradingState.mode.rawValue])
        }
        let lifted: RuntimeRiskMonitor.LiftOutcome? = freeze ? nil : monitor.lift(reason: reason, metadata: metadata, pullsSeen: pullsSeen)
        let changed = lifted.map { $0 == .lifted } ?? monitor.manualFreeze(reason: reason, metadata: metadata)
        let state = monitor.tradingState
        let outcome = changed ? "changed" : "unchanged"
        let message: String
        switch lifted {
        case nil:
            message = changed ? "trading is HALTED; every router cancels its orders at its next poll"
                              : "trading was already HALTED"
        case .lifted?:
            message = "trading is \(state.mode.rawValue.uppercased())"
        case .nothingToLift?:
            message = "there was no halt to lift (trading is \(state.mode.rawValue.uppercased()))"
        case .haltLandedMeanwhile?:
            return refuse(request, peer: peer, .failed,
                          "the halt stays: a new halt (\(monitor.freezeEvents.last?.trigger.rawValue ?? "unknown")) landed while the unfreeze "
                          + "was published, and stands; unfreeze again to lift it",
                          arguments: ["reason": reason, "state": state.mode.rawValue])
        case .limitsIndeterminate?:
            return refuse(request, peer: peer, .failed,
                          "the halt stays: a limit change was taken in part and the limits in force are a mix of the old and the new; set the limits again (limits set), then unfreeze",
                          arguments: ["reason": reason, "state": state.mode.rawValue])
        case .notTaken?:
            return refuse(request, peer: peer, .failed,
                          "the halt stays: the risk side did not take the unfreeze within \(RuntimeRiskMonitor.requestTakeBoundSeconds) s (it is held up: is the journal stalled?); the request is withdrawn and will not apply later",
                          arguments: ["reason": reason, "state": state.mode.rawValue])
        case .journalFailing(let code)?:
            return refuse(request, peer: peer, .failed,
                          "the halt stays: an unfreeze is refused while the journal cannot record it: \(journalErrorText(code))",
                          arguments: ["reason": reason, "state": state.mode.rawValue, "errno": errnoName(code)])
        }
        var response = ControlResponse(ok: true, command: request.command)
        response.changed = changed
        response.message = message
        audit(request, peer: peer, arguments: ["reason": reason, "state": state.mode.rawValue], outcome: outcome,
              into: &response)
        return response
    }

    private func setLimits(_ request: ControlRequest, reason: String, peer: PeerCredentials?) -> ControlResponse {
        guard let patch = request.limits, !patch.isEmpty else {
            return refuse(request, peer: peer, .invalid, "limits set needs at least one limit: name=value")
        }
        let arguments = patch.mapValues(\.compactText).merging(["reason": reason]) { a, _ in a }
        let known = RiskLimits.fieldNames
        if let unknown = patch.keys.sorted().first(where: { !known.contains($0) }) {
            return refuse(request, peer: peer, .invalid,
                          "unknown limit \"\(unknown)\"; the limits are: \(known.sorted().joined(separator: ", "))",
                          arguments: arguments)
        }
        let current = monitor.limits
        let limits: RiskLimits
        do {
            limits = try merged(current, patch)
            // Only the tables this command sets: one set in code may name a symbol yet to come.
            var judged = limits
            if patch["symbolOverrides"] == nil { judged.symbolOverrides = [:] }
            if patch["symbolOrderRules"] == nil { judged.symbolOrderRules = [:] }
            let traded = monitor.symbols
            if let (field, stray) = judged.perSymbolLimit(namingNoneOf: Set(traded)) {
                return refuse(request, peer: peer, .invalid,
                              "\(field) names \(stray), which this engine does not trade (it trades \(traded.sorted().joined(separator: ", "))): nothing changed",
                              arguments: arguments)
            }
            if limits == current && !monitor.limitsInForceIndeterminate {
                var response = ControlResponse(ok: true, command: request.command)
                response.changed = false
                response.limits = current
                response.message = "the limits are already so: nothing changed"
                audit(request, peer: peer, arguments: arguments, outcome: "unchanged", into: &response)
                return response
            }
            try monitor.updateLimits(limits)
        } catch let error as RedlineError where error.leftLimitsChanged {
            // In force but not durable, or taken in part with trading halted: not "nothing changed".
            return refuse(request, peer: peer, .failed, "\(error)", arguments: arguments)
        } catch {
            if monitor.limitsInForceIndeterminate { // an earlier change's mix is still in force
                return refuse(request, peer: peer, .failed, "\(error); the limits in force are still a mix of an old and a new set (an earlier change taken in part) and trading stays HALTED: set the limits again", arguments: arguments)
            }
            return refuse(request, peer: peer, .invalid, "limits refused, nothing changed: \(error)", arguments: arguments)
        }
        var response = ControlResponse(ok: true, command: request.command)
        response.changed = true
        response.limits = monitor.limits
        response.message = "limits updated: " + patch.keys.sorted().joined(separator: ", ")
        audit(request, peer: peer, arguments: arguments, outcome: "changed", into: &response)
        return response
    }

    private func releaseStrategy(_ request: ControlRequest, reason: String, peer: PeerCredentials?) -> ControlResponse {
        guard let strategy = request.strategy else {
            return refuse(request, peer: peer, .invalid, "release-strategy needs a strategy id")
        }
        let live = monitor.liveStrategies
        guard live.contains(strategy) else {
            let known = live.isEmpty ? "none is" : "live: " + live.map(String.init).joined(separator: ", ")
            return refuse(request, peer: peer, .invalid, "no strategy \(strategy) trades here (\(known)): nothing changed",
                          arguments: ["reason": reason, "strategy": "\(strategy)"])
        }
        let changed: Bool
        do {
            changed = try monitor.releaseStrategy(strategy, reason: reason, metadata: provenance(request))
        } catch {
            return refuse(request, peer: peer, .failed, "\(error)", arguments: ["reason": reason, "strategy": "\(strategy)"])
        }
        var response = ControlResponse(ok: true, command: request.command)
        response.changed = changed
        response.message = changed ? "strategy \(strategy) released" : "strategy \(strategy) was not halted"
        audit(request, peer: peer, arguments: ["reason": reason, "strategy": "\(strategy)"],
              outcome: changed ? "changed" : "unchanged", into: &response)
        return response
    }

    /// `current` with the named limits replaced, decoded (and so validated)
    /// as a whole. A value replaces the limit whole (a table, the order
    /// rules). Refused: a key inside a value that the limits do not have (a
    /// misspelt rule would otherwise be dropped, and the rule be off), and
    /// null for a limit that cannot be absent.
    private func merged(_ current: RiskLimits, _ patch: [String: JSONValue]) throws -> RiskLimits {
        var object = try JSONDecoder().decode([String: JSONValue].self, from: JSONEncoder().encode(current))
        for (key, value) in patch {
            if value == .null { object.removeValue(forKey: key) } else { object[key] = value }
        }
        let limits = try NamedDecoding.decode(RiskLimits.self, from: JSONEncoder().encode(object),
                                              searchBytes: ControlServer.namedSearchBytes)
        let result = try JSONDecoder().decode([String: JSONValue].self, from: JSONEncoder().encode(limits))
        for key in patch.keys.sorted() {
            if let problem = Self.unknownKey(in: patch[key]!, against: result[key], path: key) {
                throw RedlineError.invalidInput(problem)
            }
        }
        return limits
    }

    /// The first place `given` names what `kept` (the limits as decoded) has not.
    public static func unknownKey(in given: JSONValue, against kept: JSONValue?, path: String) -> String? {
        switch given {
        case .null:
            return kept == nil ? nil : "\(path) cannot be null: give its value"
        case .object(let fields):
            guard case .object(let keptFields)? = kept else { return nil }
            for name in fields.keys.sorted() {
                guard keptFields[name] != nil || fields[name] == .null else {
                    let known = keptFields.keys.sorted()
                    return "unknown limit \"\(path).\(name)\"" + (known.isEmpty ? "" : " (set there now: \(known.joined(separator: ", ")))")
                }
                if let problem = unknownKey(in: fields[name]!, against: keptFields[name], path: "\(path).\(name)") {
                    return problem
                }
            }
            return nil
        case .array(let items):
            guard case .array(let keptItems)? = kept, keptItems.count == items.count else { return nil }
            for (index, item) in items.enumerated() {
                if let problem = unknownKey(in: item, against: keptItems[index], path: "\(path)[\(index)]") { return problem }
            }
            return nil
        default:
            return nil
        }
    }

    func audit(_ request: ControlRequest, peer: PeerCredentials?, arguments: [String: String], outcome: String,
               into response: inout ControlResponse, operatorName: String? = nil) {
        let action = OperatorAction(operatorName: operatorName ?? request.operatorName, command: request.command,
                                    arguments: arguments, outcome: outcome, peerUID: peer?.uid, peerPID: peer?.pid,
                                    timestamp: Self.received ?? Date())
        do { try monitor.recordOperatorAction(action) } catch {
            // The command took effect (a freeze must never wait on a disk);
            // its audit record did not reach the journal: say so.
            response.message = (response.message ?? "") + " (WARNING: the audit record is not durable: \(error))"
            monitor.logger.error("operator action not journaled", metadata: ["error": "\(error)",
                                                                             "operator": "\(request.operatorName)"])
        }
    }
}

/// The order control requests arrive in, across connections. A freeze runs
/// at once on its own lane; every other command waits its turn in the
/// command queue, so an unfreeze that arrived before a freeze may reach the
/// engine after it. It must not lift that freeze: the operator who pulled
/// the kill switch last was told trading is HALTED.
public final class CommandArrivals: Sendable {
    private let count = Atomic<UInt64>(0)
    private let latestFreeze = Atomic<UInt64>(0)

    public init() {}

    /// Number a request as it arrives (on the endpoint's event loop, before
    /// it is queued), and note a freeze that will run: one whose reason is
    /// taken (`OperatorCommands.reason(of:)`). A freeze refused for its
    /// reason (none, too long, a control character) overtakes nothing.
    public func arrive(_ request: ControlRequest) -> UInt64 {
        // relaxed: the number orders requests; `latestFreeze` publishes a freeze's.
        let number = count.add(1, ordering: .relaxed).newValue
        // releasing: pairs with `freeze(after:)`'s acquiring load.
        if request.command == "freeze", case .success = OperatorCommands.reason(of: request) {
            latestFreeze.max(number, ordering: .releasing)
        }
        return number
    }

    /// The newest freeze that arrived after request `arrival`, if any.
    public func freeze(after arrival: UInt64) -> UInt64? {
        // acquiring: pairs with `arrive`'s releasing max.
        let latest = latestFreeze.load(ordering: .acquiring)
        return latest > arrival ? latest : nil
    }
}
