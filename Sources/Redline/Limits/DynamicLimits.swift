import Foundation
import RedlineCore
import Synchronization

/// A window of the trading day with tighter limits: from `start` to `end`
/// (local time in `timeZone`, "HH:MM", the end excluded; an end before the
/// start runs past midnight), on `weekdays` (ISO: 1 Monday ... 7 Sunday;
/// nil: every day). While it is open every inventory limit and the book's
/// limit are multiplied by `scale`. Where windows overlap, the smallest
/// scale applies. Daylight saving follows the zone's rules.
public struct LimitWindow: Sendable, Codable, Equatable {
    public var start: String
    public var end: String
    /// An IANA zone name: "America/New_York", "Europe/London", "UTC".
    public var timeZone: String
    public var weekdays: Set<Int>?
    /// In (0, 1]: tighter only.
    public var scale: Double

    public init(start: String, end: String, timeZone: String, weekdays: Set<Int>? = nil, scale: Double) {
        self.start = start
        self.end = end
        self.timeZone = timeZone
        self.weekdays = weekdays
        self.scale = scale
    }

    /// Minutes after local midnight of "HH:MM", or nil.
    static func minutes(_ text: String) -> Int? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 2, parts[1].count == 2,
              let h = Int(parts[0]), let m = Int(parts[1]), (0...23).contains(h), (0...59).contains(m) else { return nil }
        return h * 60 + m
    }

    var startMinute: Int { Self.minutes(start) ?? 0 }
    var endMinute: Int { Self.minutes(end) ?? 0 }

    func validate(_ index: Int) throws(RedlineError) {
        let name = "limitSchedule[\(index)]"
        guard Self.minutes(start) != nil else { throw .invalidLimits("\(name).start must be \"HH:MM\", got \"\(start)\"") }
        guard Self.minutes(end) != nil else { throw .invalidLimits("\(name).end must be \"HH:MM\", got \"\(end)\"") }
        guard startMinute != endMinute else { throw .invalidLimits("\(name) is empty: start and end are both \(start)") }
        guard TimeZone(identifier: timeZone) != nil else {
            throw .invalidLimits("\(name).timeZone \"\(timeZone)\" is not a known time zone")
        }
        if let weekdays, weekdays.isEmpty || !weekdays.allSatisfy({ (1...7).contains($0) }) {
            throw .invalidLimits("\(name).weekdays must be ISO days 1 (Monday) to 7 (Sunday), got \(weekdays.sorted())")
        }
        guard scale.isFinite, scale >= 1e-8, scale <= 1 else {
            throw .invalidLimits("\(name).scale must be in [0.00000001, 1], got \(scale)")
        }
    }

    /// Whether the window is open at `date`.
    func isOpen(at date: Date) -> Bool {
        guard let zone = TimeZone(identifier: timeZone) else { return false }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let parts = calendar.dateComponents([.hour, .minute, .weekday], from: date)
        let minute = (parts.hour ?? 0) * 60 + (parts.minute ?? 0)
        // Calendar: 1 Sunday ... 7 Saturday; ISO: 1 Monday ... 7 Sunday.
        let today = ((parts.weekday ?? 1) + 5) % 7 + 1
        if startMinute < endMinute {
            return minute >= startMinute && minute < endMinute && weekdays.map { $0.contains(today) } ?? true
        }
        // Past midnight: the evening belongs to the day it starts on, the morning to the day before.
        if minute >= startMinute { return weekdays.map { $0.contains(today) } ?? true }
        if minute < endMinute { return weekdays.map { $0.contains(today == 1 ? 7 : today - 1) } ?? true }
        return false
    }

    /// The scale in force at `date` for `windows`: the smallest open one's, or 1.
    public static func scale(of windows: [LimitWindow], at date: Date) -> Double {
        windows.filter { $0.isOpen(at: date) }.map(\.scale).min() ?? 1
    }
}

/// Volatility scaling: a symbol's volatility estimate (`OrderRouter.reportVolatility`)
/// scales its inventory limit and its price collar. The scale is
/// `referenceVolatility / volatility`, kept within [`floor`, `cap`]: the
/// inventory limit is multiplied by it (a volatile market shrinks it), the
/// collar divided by it (and widens). Until a symbol's first estimate its
/// scale is the floor (fail closed). The limit in force never exceeds the
/// book's.
public struct VolatilityScaling: Sendable, Codable, Equatable {
    /// The volatility at which the limits are as configured, in the unit the estimates come in.
    public var referenceVolatility: Double
    /// In (0, cap].
    public var floor: Double
    /// In [floor, 10]. Above 1, a calm market loosens the limit (up to the book's).
    public var cap: Double

    public init(referenceVolatility: Double, floor: Double = 0.25, cap: Double = 1) {
        self.referenceVolatility = referenceVolatility
        self.floor = floor
        self.cap = cap
    }

    func validate() throws(RedlineError) {
        guard referenceVolatility.isFinite, referenceVolatility > 0,
              case .success = FixedPoint.quantityOrPrice(referenceVolatility) else {
            throw .invalidLimits("volatilityScaling.referenceVolatility must be a finite number greater than zero, got \(referenceVolatility)")
        }
        guard floor.isFinite, cap.isFinite, floor > 0, floor <= cap, cap <= 10 else {
            throw .invalidLimits("volatilityScaling needs 0 < floor <= cap <= 10, got floor \(floor), cap \(cap)")
        }
    }

    /// (reference, floor, cap) in fixed point (RL_CONTROL_SET_VOLATILITY_SCALING).
    var fixedPoint: (Int64, Int64, Int64) {
        func fp(_ v: Double) -> Int64 { Int64((v * Double(RL_FP_SCALE)).rounded(.down)) }
        return (fp(referenceVolatility), max(1, fp(floor)), max(1, fp(cap)))
    }
}

/// Applies `RiskLimits.limitSchedule` on the wall clock: a background thread
/// wakes at each minute boundary (the windows' granularity) and puts the
/// scale in force through the controller when it changes. A monitor with a
/// manual clock runs none: its owner calls `RuntimeRiskMonitor.applyLimitSchedule(at:)`.
final class LimitScheduler: @unchecked Sendable {
    private let condition = NSCondition()
    private var stopped = false
    private var thread: Thread?

    init(apply: @escaping @Sendable (Date) -> Void) {
        let thread = Thread { [condition] in
            while true {
                apply(Date())
                let now = Date().timeIntervalSince1970
                let next = Date(timeIntervalSince1970: (now / 60).rounded(.down) * 60 + 60.001)
                condition.lock()
                if self.stopped {
                    condition.unlock()
                    return
                }
                _ = condition.wait(until: next)
                let stop = self.stopped
                condition.unlock()
                if stop { return }
            }
        }
        thread.name = "redline-limit-schedule"
        self.thread = thread
        thread.start()
    }

    func stop() {
        condition.lock()
        stopped = true
        condition.signal()
        condition.unlock()
    }
}
