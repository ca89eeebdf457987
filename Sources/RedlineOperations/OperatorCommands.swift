import Foundation
import Logging
import Redline

/// What each control-socket command does, through the monitor's thread-safe
/// API only. Authorization is the endpoint's (`OperationsEndpoint`); this
/// type takes an admitted request and answers it. Every command that
/// changes state is journaled with the operator's identity
/// (`OperatorAction`), whether it changed anything or was refused.
public struct OperatorCommands: Sendable {
    public let monitor: RuntimeRiskMonitor

    public init(monitor: RuntimeRiskMonitor) {
        self.monitor = monitor
    }

    /// The commands, as `redline ctl` spells them.
    public static let names = ["status", "freeze", "unfreeze", "limits get", "limits set", "what-if", "orders", "events",
                               "release-strategy"]

    public func handle(_ request: ControlRequest, peer: PeerCredentials?) -> ControlResponse {
        switch request.command {
        case "status": return status()
        case "freeze": return changeState(request, peer: peer, freeze: true)
        case "unfreeze": return changeState(request, peer: peer, freeze: false)
        case "limits get":
            var response = ControlResponse(ok: true, command: request.command)
            response.limits = monitor.limits
            return response
        case "limits set": return setLimits(request, peer: peer)
        case "what-if": return whatIf(request)
        case "orders": return orders()
        case "events":
            var response = ControlResponse(ok: true, command: request.command)
            let last = max(0, request.last ?? 50)
            response.events = Array(monitor.freezeEvents.suffix(last))
            response.actions = Array(monitor.operatorActions.suffix(last))
            return response
        case "release-strategy": return releaseStrategy(request, peer: peer)
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
        response.message = "trading is \(state.mode.rawValue.uppercased())"
        return response
    }

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

    private func changeState(_ request: ControlRequest, peer: PeerCredentials?, freeze: Bool) -> ControlResponse {
        guard let reason = request.reason?.trimmingCharacters(in: .whitespacesAndNewlines), !reason.isEmpty else {
            return .refused(request.command, .invalid, "\(request.command) needs a reason (--reason)")
        }
        let metadata = ["operator": request.operatorName, "via": "control_socket"]
        let changed = freeze ? monitor.manualFreeze(reason: reason, metadata: metadata)
                             : monitor.unfreeze(reason: reason, metadata: metadata)
        let state = monitor.tradingState
        var outcome = changed ? "changed" : "unchanged"
        var message: String
        if freeze {
            message = changed ? "trading is HALTED; every router cancels its orders at its next poll"
                              : "trading was already HALTED"
        } else if changed {
            message = "trading is \(state.mode.rawValue.uppercased())"
        } else if state.mode == .halted {
            // The risk side refused the lift: the journal cannot record it.
            outcome = "refused: the halt stays (the journal cannot record a lift, see the log)"
            message = "the halt stays: an unfreeze is refused while the journal cannot record it"
        } else {
            message = "there was no halt to lift (trading is \(state.mode.rawValue.uppercased()))"
        }
        var response = ControlResponse(ok: true, command: request.command)
        response.changed = changed
        response.message = message
        audit(request, peer: peer, arguments: ["reason": reason, "state": state.mode.rawValue], outcome: outcome,
              into: &response)
        return response
    }

    private func setLimits(_ request: ControlRequest, peer: PeerCredentials?) -> ControlResponse {
        guard let reason = request.reason?.trimmingCharacters(in: .whitespacesAndNewlines), !reason.isEmpty else {
            return .refused(request.command, .invalid, "limits set needs a reason (--reason)")
        }
        guard let patch = request.limits, !patch.isEmpty else {
            return .refused(request.command, .invalid, "limits set needs at least one limit: name=value")
        }
        let known = RiskLimits.fieldNames
        if let unknown = patch.keys.sorted().first(where: { !known.contains($0) }) {
            return .refused(request.command, .invalid,
                            "unknown limit \"\(unknown)\"; the limits are: \(known.sorted().joined(separator: ", "))")
        }
        let arguments = patch.mapValues(\.compactText).merging(["reason": reason]) { a, _ in a }
        let limits: RiskLimits
        do {
            limits = try merged(monitor.limits, patch)
            try monitor.updateLimits(limits)
        } catch {
            let why = "\(error)"
            var refused = ControlResponse.refused(request.command, .invalid, "limits refused, nothing changed: \(why)")
            audit(request, peer: peer, arguments: arguments, outcome: "refused: \(why)", into: &refused)
            return refused
        }
        var response = ControlResponse(ok: true, command: request.command)
        response.changed = true
        response.limits = monitor.limits
        response.message = "limits updated: " + patch.keys.sorted().joined(separator: ", ")
        audit(request, peer: peer, arguments: arguments, outcome: "changed", into: &response)
        return response
    }

    private func releaseStrategy(_ request: ControlRequest, peer: PeerCredentials?) -> ControlResponse {
        guard let reason = request.reason?.trimmingCharacters(in: .whitespacesAndNewlines), !reason.isEmpty else {
            return .refused(request.command, .invalid, "release-strategy needs a reason (--reason)")
        }
        guard let strategy = request.strategy else {
            return .refused(request.command, .invalid, "release-strategy needs a strategy id")
        }
        let changed = monitor.releaseStrategy(strategy, reason: reason,
                                              metadata: ["operator": request.operatorName, "via": "control_socket"])
        var response = ControlResponse(ok: true, command: request.command)
        response.changed = changed
        response.message = changed ? "strategy \(strategy) released" : "strategy \(strategy) was not halted"
        audit(request, peer: peer, arguments: ["reason": reason, "strategy": "\(strategy)"],
              outcome: changed ? "changed" : "unchanged", into: &response)
        return response
    }

    /// `current` with the named limits replaced, decoded (and so validated) as a whole.
    private func merged(_ current: RiskLimits, _ patch: [String: JSONValue]) throws -> RiskLimits {
        let data = try JSONEncoder().encode(current)
        var object = try JSONDecoder().decode([String: JSONValue].self, from: data)
        for (key, value) in patch {
            if value == .null { object.removeValue(forKey: key) } else { object[key] = value }
        }
        return try JSONDecoder().decode(RiskLimits.self, from: JSONEncoder().encode(object))
    }

    private func audit(_ request: ControlRequest, peer: PeerCredentials?, arguments: [String: String], outcome: String,
                       into response: inout ControlResponse) {
        let action = OperatorAction(operatorName: request.operatorName, command: request.command, arguments: arguments,
                                    outcome: outcome, peerUID: peer?.uid, peerPID: peer?.pid)
        do { try monitor.recordOperatorAction(action) } catch {
            // The command took effect (a freeze must never wait on a disk);
            // its audit record did not reach the journal: say so.
            response.message = (response.message ?? "") + " (WARNING: the audit record is not durable: \(error))"
            monitor.logger.error("operator action not journaled", metadata: ["error": "\(error)",
                                                                             "operator": "\(request.operatorName)"])
        }
    }
}
