import Foundation
import Redline

// The control socket speaks one JSON object per line each way: a request,
// then its response. `redline ctl` is one client; `socat` or `nc -U` are others.
//
//   {"operator":"alice","command":"freeze","reason":"venue outage"}
//   {"ok":true,"command":"freeze","changed":true,"message":"trading is HALTED", ...}

/// One operator request.
public struct ControlRequest: Codable, Sendable, Equatable {
    /// Who asks. Must be one of the endpoint's configured operators.
    public var operatorName: String
    /// `status`, `freeze`, `unfreeze`, `limits get`, `limits set`, `what-if`,
    /// `orders`, `events`, `release-strategy`.
    public var command: String
    /// Why: required by every command that changes state.
    public var reason: String?
    /// `limits set`: the limits to change, by name (`RiskLimits`' JSON keys);
    /// the rest stay as they are.
    public var limits: [String: JSONValue]?
    /// `what-if`: the order to simulate.
    public var order: WhatIfOrder?
    /// `release-strategy`: the strategy id.
    public var strategy: UInt16?
    /// `events`: at most this many, the most recent (default 50).
    public var last: Int?

    public init(operatorName: String, command: String, reason: String? = nil, limits: [String: JSONValue]? = nil,
                order: WhatIfOrder? = nil, strategy: UInt16? = nil, last: Int? = nil) {
        self.operatorName = operatorName
        self.command = command
        self.reason = reason
        self.limits = limits
        self.order = order
        self.strategy = strategy
        self.last = last
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case operatorName = "operator", command, reason, limits, order, strategy, last
    }

    /// The keys a request may have.
    public static let keyNames = CodingKeys.allCases.map(\.rawValue)

    /// The first key of a request (or of its `order`) that no field reads,
    /// or nil; nil too for what is not a JSON object (the decoder says why).
    static func unknownKey(in data: Data) -> String? {
        guard case .object(let fields)? = try? JSONDecoder().decode(JSONValue.self, from: data) else { return nil }
        if let key = fields.keys.sorted().first(where: { !keyNames.contains($0) }) { return key }
        if case .object(let order)? = fields["order"] {
            let orderKeys = WhatIfOrder.CodingKeys.allCases.map(\.rawValue)
            if let key = order.keys.sorted().first(where: { !orderKeys.contains($0) }) { return "order.\(key)" }
        }
        return nil
    }
}

public struct WhatIfOrder: Codable, Sendable, Equatable {
    public var symbol: String
    /// `buy` or `sell`.
    public var side: String
    public var qty: Double
    public var price: Double

    enum CodingKeys: String, CodingKey, CaseIterable {
        case symbol, side, qty, price
    }

    public init(symbol: String, side: String, qty: Double, price: Double) {
        self.symbol = symbol
        self.side = side
        self.qty = qty
        self.price = price
    }
}

/// Why a request was refused, for scripts.
public enum ControlRefusal: String, Codable, Sendable {
    case malformed, oversized, unauthorized, unknownCommand = "unknown_command", invalid, timeout, failed, busy
}

/// The answer to one request.
public struct ControlResponse: Codable, Sendable, Equatable {
    public var ok: Bool
    public var command: String
    /// Set when `ok` is false.
    public var refusal: ControlRefusal?
    public var error: String?
    /// Whether the command changed the engine's state (freeze, unfreeze, limits set).
    public var changed: Bool?
    public var message: String?
    public var status: StatusReport?
    public var limits: RiskLimits?
    public var simulation: OrderSimulation?
    public var orders: OrdersReport?
    public var events: [FreezeEvent]?
    public var actions: [OperatorAction]?

    public init(ok: Bool, command: String) {
        self.ok = ok
        self.command = command
    }

    public static func refused(_ command: String, _ refusal: ControlRefusal, _ error: String) -> ControlResponse {
        var response = ControlResponse(ok: false, command: command)
        response.refusal = refusal
        response.error = error
        return response
    }
}

public struct StatusReport: Codable, Sendable, Equatable {
    public struct Symbol: Codable, Sendable, Equatable {
        public var symbol: String
        public var position: Double
        public var workingBuy: Double
        public var workingSell: Double
        public var workingOrders: Int
        public var markPrice: Double
        public var exposureUSD: Double
        public var limitUSD: Double
        public var utilizationPercent: Double
    }
    /// `active`, `reducing` or `halted`.
    public var mode: String
    /// `trading_state`: 0 active, 1 reducing, 2 halted.
    public var state: Int
    public var epoch: UInt64
    /// The last freeze's trigger and reason, while halted or reducing.
    public var trigger: String?
    public var reason: String?
    public var bookExposureUSD: Double
    public var bookLimitUSD: Double
    public var bookUtilizationPercent: Double
    public var symbols: [Symbol]
    public var strategiesHalted: [UInt16]
    public var journal: String?
    /// Set while a limit change taken in part holds: the limits in force
    /// are a mix, `bookLimitUSD` is the last set whole.
    public var limitsNote: String? = nil
}

public struct OrdersReport: Codable, Sendable, Equatable {
    public struct Symbol: Codable, Sendable, Equatable {
        public var symbol: String
        /// Working orders on the symbol, every strategy's (exact: the engine's count).
        public var workingOrders: Int
        public var workingBuy: Double
        public var workingSell: Double
    }
    public var strategies: [RedlineMetrics.StrategyOrders]
    public var symbols: [Symbol]
    public var inDoubt: Int
}

/// Any JSON value: the values of `limits set`, which may be numbers, strings,
/// lists or objects (an override table, the order rules).
public enum JSONValue: Codable, Sendable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let n = try? c.decode(Double.self) { self = .number(n) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .number(let n): try c.encode(n)
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }

    /// `key=value` from a command line: a number, true/false, null, JSON, or else a string.
    public static func parse(_ text: String) -> JSONValue {
        if let number = Double(text), number.isFinite { return .number(number) }
        if let data = text.data(using: .utf8), let value = try? JSONDecoder().decode(JSONValue.self, from: data) {
            return value
        }
        return .string(text)
    }

    var compactText: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "?"
    }
}

extension ControlResponse {
    /// One line of JSON (no newline inside), as the socket carries it.
    public func encodedLine() -> Data {
        var data = (try? ControlCodec.encoder.encode(self)) ?? Data(#"{"ok":false,"command":"?","refusal":"failed","error":"response does not encode"}"#.utf8)
        data.append(UInt8(ascii: "\n"))
        return data
    }
}

public enum ControlCodec {
    public static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }

    public static var decoder: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}
