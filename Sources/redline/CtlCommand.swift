import ArgumentParser
import Foundation
import Redline
import RedlineOperations

/// The operator's client of the control socket. Human-readable by default,
/// `--json` for scripts; exits non-zero when the endpoint refuses.
struct CtlCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ctl",
        abstract: "Send an operator command to a running engine's control socket.",
        subcommands: [Status.self, Freeze.self, Unfreeze.self, Limits.self, WhatIf.self, Orders.self, Events.self,
                      ReleaseStrategy.self])

    /// Declared here too, so that `redline ctl --operator alice freeze …`
    /// parses as well as `redline ctl freeze --operator alice …`.
    @OptionGroup var connection: Connection

    struct Connection: ParsableArguments {
        @Option(help: "The control socket (or $REDLINE_SOCKET).")
        var socket: String = ProcessInfo.processInfo.environment["REDLINE_SOCKET"] ?? "/tmp/redline.sock"
        @Option(name: .customLong("operator"), help: "Who you are, as the endpoint's operators list names you (or $REDLINE_OPERATOR, or $USER).")
        var operatorName: String = ProcessInfo.processInfo.environment["REDLINE_OPERATOR"]
            ?? ProcessInfo.processInfo.environment["USER"] ?? "root"
        @Flag(help: "Print the response as JSON.")
        var json = false
        /// Longer than the endpoint's own wait for a change to be durable
        /// (10 s), so that a slow disk's answer ("not durable") still arrives.
        @Option(help: "Seconds to wait for the answer (a freeze or unfreeze may wait 10 s for a slow journal).")
        var timeout = 20.0

        func validate() throws {
            guard timeout >= 0.01, timeout <= 3600 else { throw ValidationError("--timeout must be 0.01...3600 seconds") }
        }

        @discardableResult
        func send(_ request: ControlRequest, render: (ControlResponse) -> String) throws -> ControlResponse {
            var request = request
            request.operatorName = operatorName
            let response: ControlResponse
            do { response = try ControlClient(path: socket, timeoutSeconds: timeout).send(request) } catch {
                // Sent, but no answer: a command that changes state may have been applied all the same.
                let maybe = OperatorCommands.changesState(request.command) && "\(error)".contains("no answer")
                    ? "; it may have been applied meanwhile: check with `redline ctl status` and `redline ctl events`" : ""
                throw CLIFailure("redline ctl: \(error)\(maybe)")
            }
            if json {
                let encoder = ControlCodec.encoder
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                print(String(decoding: (try? encoder.encode(response)) ?? Data(), as: UTF8.self))
            } else if response.ok {
                print(render(response))
            }
            if !response.ok {
                if !json {
                    FileHandle.standardError.write(Data("refused (\(response.refusal?.rawValue ?? "?")): \(response.error ?? "no reason given")\n".utf8))
                }
                throw ExitCode(1)
            }
            return response
        }
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The trading state, exposure and utilization.")
        @OptionGroup var connection: Connection
        func run() throws {
            try connection.send(.init(operatorName: "", command: "status")) { response in
                guard let s = response.status else { return response.message ?? "" }
                var lines = ["trading: \(s.mode.uppercased()) (epoch \(s.epoch))"
                             + (s.trigger.map { ", \($0): \(s.reason ?? "")" } ?? "")]
                lines.append(String(format: "book: exposure $%.2f of $%.2f (%.1f%%)", s.bookExposureUSD, s.bookLimitUSD,
                                    s.bookUtilizationPercent))
                for symbol in s.symbols {
                    lines.append(String(format: "  %-10@ position %12.4f  working %4d orders  exposure $%12.2f of $%.0f (%.1f%%)",
                                        symbol.symbol as NSString, symbol.position, symbol.workingOrders, symbol.exposureUSD,
                                        symbol.limitUSD, symbol.utilizationPercent))
                }
                if !s.strategiesHalted.isEmpty { lines.append("strategies halted alone: \(s.strategiesHalted)") }
                if let journal = s.journal { lines.append("journal: \(journal)") }
                if let note = s.limitsNote { lines.append("limits: \(note)") }
                return lines.joined(separator: "\n")
            }
        }
    }

    struct Freeze: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Halt trading: every router cancels its orders.")
        @OptionGroup var connection: Connection
        @Option(help: "Why (journaled with your name).") var reason: String
        func run() throws {
            try connection.send(.init(operatorName: "", command: "freeze", reason: reason)) { $0.message ?? "" }
        }
    }

    struct Unfreeze: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Lift a halt (REDUCING if a limit is still breached).")
        @OptionGroup var connection: Connection
        @Option(help: "Why (journaled with your name).") var reason: String
        func run() throws {
            try connection.send(.init(operatorName: "", command: "unfreeze", reason: reason)) { $0.message ?? "" }
        }
    }

    struct Limits: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Read or change the limits.",
                                                        subcommands: [Get.self, Set.self])
        struct Get: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Print the limits in force (JSON).")
            @OptionGroup var connection: Connection
            func run() throws {
                try connection.send(.init(operatorName: "", command: "limits get")) { response in
                    if let note = response.message { FileHandle.standardError.write(Data("note: \(note)\n".utf8)) }
                    let encoder = JSONEncoder()
                    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                    return response.limits.flatMap { try? encoder.encode($0) }.map { String(decoding: $0, as: UTF8.self) } ?? ""
                }
            }
        }
        struct Set: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Change limits by name: maxInventoryUSD=50000 maxTotalNotional=2e5 (JSON values for tables).")
            @OptionGroup var connection: Connection
            @Option(help: "Why (journaled with your name).") var reason: String
            @Argument(help: "name=value, one per limit.") var assignments: [String]
            func run() throws {
                var patch: [String: JSONValue] = [:]
                for assignment in assignments {
                    guard let eq = assignment.firstIndex(of: "="), eq != assignment.startIndex else {
                        throw ValidationError("\"\(assignment)\" is not name=value")
                    }
                    patch[String(assignment[..<eq])] = JSONValue.parse(String(assignment[assignment.index(after: eq)...]))
                }
                try connection.send(.init(operatorName: "", command: "limits set", reason: reason, limits: patch)) {
                    $0.message ?? ""
                }
            }
        }
    }

    struct WhatIf: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "what-if",
                                                        abstract: "What an order would meet now, without placing it.")
        @OptionGroup var connection: Connection
        @Option var symbol: String
        @Option(help: "buy or sell") var side: String
        @Option var qty: Double
        @Option var price: Double
        func run() throws {
            let response = try connection.send(.init(operatorName: "", command: "what-if",
                                                     order: .init(symbol: symbol, side: side, qty: qty, price: price))) { response in
                guard let s = response.simulation else { return "" }
                var lines = ["decision: \(s.decision)"]
                if !s.violations.isEmpty { lines.append("would break: " + s.violations.map(\.code).joined(separator: ", ")) }
                lines.append("raises risk: \(s.raisesRisk)")
                if let h = s.symbolHeadroomUSD { lines.append(String(format: "symbol headroom: $%.2f", h)) }
                if let h = s.bookHeadroomUSD { lines.append(String(format: "book headroom: $%.2f", h)) }
                return lines.joined(separator: "\n")
            }
            // As `redline what-if`: 3 when the order would be blocked, for scripts.
            if let s = response.simulation, !s.decision.isAllowed { throw ExitCode(3) }
        }
    }

    struct Orders: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Working orders per strategy and per symbol.")
        @OptionGroup var connection: Connection
        func run() throws {
            try connection.send(.init(operatorName: "", command: "orders")) { response in
                guard let o = response.orders else { return "" }
                var lines = ["strategy  working   placed   filled  canceled  rejected  blocked"]
                for s in o.strategies {
                    lines.append(String(format: "%8d %8llu %8llu %8llu %9llu %9llu %8llu", s.strategy, s.working, s.placed,
                                        s.filled, s.canceled, s.rejected, s.blocked))
                }
                lines.append("symbol      working orders   working buy   working sell")
                for s in o.symbols {
                    lines.append(String(format: "%-10@ %15d %13.4f %14.4f", s.symbol as NSString, s.workingOrders,
                                        s.workingBuy, s.workingSell))
                }
                lines.append("orders in doubt: \(o.inDoubt)")
                return lines.joined(separator: "\n")
            }
        }
    }

    struct Events: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The freeze history and the operators' commands.")
        @OptionGroup var connection: Connection
        @Option(help: "At most this many of each, the most recent.") var last = 20
        func run() throws {
            try connection.send(.init(operatorName: "", command: "events", last: last)) { response in
                let time = ISO8601DateFormatter()
                var lines = ["freezes:"]
                for e in response.events ?? [] {
                    let by = e.metadata["operator"].map { " by \($0)" } ?? ""
                    lines.append("  \(time.string(from: e.timestamp))  \(e.trigger.rawValue) (\(e.reasonClass.rawValue))\(by): \(e.reason)")
                }
                lines.append("operator commands:")
                for a in response.actions ?? [] {
                    lines.append("  \(time.string(from: a.timestamp))  \(a.operatorName): \(a.command) -> \(a.outcome)"
                                 + (a.arguments["reason"].map { " (\($0))" } ?? ""))
                }
                return lines.joined(separator: "\n")
            }
        }
    }

    struct ReleaseStrategy: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "release-strategy",
                                                        abstract: "Lift one strategy's own halt (its dead-man).")
        @OptionGroup var connection: Connection
        @Argument(help: "The strategy id.") var strategy: UInt16
        @Option(help: "Why (journaled with your name).") var reason: String
        func run() throws {
            try connection.send(.init(operatorName: "", command: "release-strategy", reason: reason,
                                      strategy: strategy)) { $0.message ?? "" }
        }
    }
}
