import Foundation

/// An operator's command, as the audit trail keeps it: who asked, what, with
/// which arguments, and what came of it. Every state-changing command of the
/// operations endpoint (freeze, unfreeze, limits, strategy release) is
/// journaled as one of these (RL_JREC_OPERATOR), refused ones included, and
/// recovery and snapshots keep them (`RuntimeRiskMonitor.operatorActions`).
public struct OperatorAction: Codable, Sendable, Equatable {
    /// The operator's identity, as the request named it and the endpoint admitted it.
    public var operatorName: String
    /// The command: `freeze`, `unfreeze`, `limits set`, `release-strategy`.
    public var command: String
    /// The command's arguments (the reason, the limits changed).
    public var arguments: [String: String]
    /// `changed`, `unchanged` (already in that state), or `refused: why`.
    public var outcome: String
    /// The peer process's uid and pid (SO_PEERCRED), when known.
    public var peerUID: UInt32?
    public var peerPID: Int32?
    public var timestamp: Date

    public init(operatorName: String, command: String, arguments: [String: String], outcome: String,
                peerUID: UInt32? = nil, peerPID: Int32? = nil, timestamp: Date = Date()) {
        self.operatorName = operatorName
        self.command = command
        self.arguments = arguments
        self.outcome = outcome
        self.peerUID = peerUID
        self.peerPID = peerPID
        self.timestamp = timestamp
    }

    enum CodingKeys: String, CodingKey {
        case operatorName = "operator", command, arguments, outcome, peerUID = "peer_uid", peerPID = "peer_pid", timestamp
    }

    static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .millisecondsSince1970
        return encoder
    }

    static var decoder: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .millisecondsSince1970
        return decoder
    }
}
