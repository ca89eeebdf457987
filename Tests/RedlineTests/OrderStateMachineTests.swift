import Redline
import XCTest

final class OrderStateMachineTests: XCTestCase {
    private static let legal: [OrderStatus: Set<OrderEventKind>] = [
        .new: [.submit, .reject],
        .pending: [.acknowledge, .partialFill, .fill, .requestCancel, .reject, .expire, .cancelAck],
        // The venue cancels what it cancels (after a refused cancel, or on its own): the ack ends the order.
        .acknowledged: [.partialFill, .fill, .requestCancel, .expire, .cancelAck],
        .partiallyFilled: [.partialFill, .fill, .requestCancel, .expire, .cancelAck],
        .pendingCancel: [.acknowledge, .partialFill, .fill, .cancelAck, .cancelReject, .expire, .requestCancel, .reject],
        .filled: [], .canceled: [], .rejected: [], .expired: [],
    ]
    private static let allStatuses: [OrderStatus] = [
        .new, .pending, .acknowledged, .partiallyFilled, .filled, .pendingCancel, .canceled, .rejected, .expired]

    func testTransitionTableAllowsExactlyTheLifecycle() {
        for status in Self.allStatuses {
            for event in OrderEventKind.allCases {
                let next = OrderStateMachine.next(status, event, hasFills: false)
                XCTAssertEqual(next != nil, Self.legal[status]!.contains(event), "\(status) --\(event)-->")
            }
        }
        XCTAssertEqual(OrderStateMachine.next(.pendingCancel, .cancelReject, hasFills: true), .partiallyFilled)
        XCTAssertEqual(OrderStateMachine.next(.pendingCancel, .cancelReject, hasFills: false), .acknowledged)
        XCTAssertEqual(OrderStateMachine.next(.pendingCancel, .reject, hasFills: false), .rejected)
        XCTAssertNil(OrderStateMachine.next(.pendingCancel, .reject, hasFills: true), "one that traded is no reject: it stays reserved")
    }

    /// Drive a real order into `status`, using quantity 10 (fixed point units).
    private func order(in status: OrderStatus, _ machine: OrderStateMachine) throws -> OrderID {
        let id = try machine.open(symbol: SymbolID(rawValue: 0), side: .buy, quantity: 10, price: 100)
        let path: [(OrderEventKind, Int64)] = switch status {
        case .new: []
        case .pending: [(.submit, 0)]
        case .acknowledged: [(.submit, 0), (.acknowledge, 0)]
        case .partiallyFilled: [(.submit, 0), (.acknowledge, 0), (.partialFill, 4)]
        case .filled: [(.submit, 0), (.acknowledge, 0), (.fill, 10)]
        case .pendingCancel: [(.submit, 0), (.acknowledge, 0), (.requestCancel, 0)]
        case .canceled: [(.submit, 0), (.acknowledge, 0), (.requestCancel, 0), (.cancelAck, 0)]
        case .rejected: [(.submit, 0), (.reject, 0)]
        case .expired: [(.submit, 0), (.acknowledge, 0), (.expire, 0)]
        }
        for (event, qty) in path { try machine.apply(id, event, fillQuantity: qty) }
        XCTAssertEqual(try machine.order(id).status, status)
        return id
    }

    func testEveryIllegalTransitionIsAnErrorAndChangesNothing() throws {
        for status in Self.allStatuses {
            for event in OrderEventKind.allCases where !Self.legal[status]!.contains(event) {
                let machine = OrderStateMachine(capacity: 4)
                let id = try order(in: status, machine)
                let before = try machine.order(id)
                let active = machine.activeCount
                let fill: Int64 = event == .fill ? max(1, before.remaining) : (event == .partialFill ? 1 : 0)
                if status.isTerminal {
                    // The record is still readable, but nothing may move it.
                    XCTAssertThrowsError(try machine.apply(id, event, fillQuantity: fill), "\(status) --\(event)-->")
                } else {
                    XCTAssertThrowsRedline(.illegalTransition(order: id, from: status, event: event)) {
                        try machine.apply(id, event, fillQuantity: fill)
                    }
                }
                XCTAssertEqual(try machine.order(id), before)
                XCTAssertEqual(machine.activeCount, active)
            }
        }
    }

    func testFillsAreToldApartByQuantityAndOverfillsAreRejected() throws {
        let machine = OrderStateMachine(capacity: 4)
        let id = try order(in: .acknowledged, machine)
        XCTAssertEqual(try machine.apply(id, .fill, fillQuantity: 3).status, .partiallyFilled)
        XCTAssertThrowsError(try machine.apply(id, .fill, fillQuantity: 8), "more than the remaining 7")
        XCTAssertEqual(try machine.apply(id, .partialFill, fillQuantity: 7).status, .filled)
        XCTAssertEqual(machine.activeCount, 0)
    }

    /// Slots are reused longest-free first, with as many held back as the
    /// capacity: a finished order stays readable for `capacity` new orders
    /// (a late fill finds it), and a stale id never finds the new order.
    func testSlotsAreReusedAndStaleIdsNeverFindTheNewOrder() throws {
        let machine = OrderStateMachine(capacity: 1)
        XCTAssertEqual(machine.slotCount, 2)
        let first = try order(in: .canceled, machine)
        let second = try machine.open(symbol: SymbolID(rawValue: 0), side: .sell, quantity: 5, price: 1)
        XCTAssertNotEqual(first, second)
        XCTAssertEqual(try machine.order(first).status, .canceled, "still readable: its slot waits")
        XCTAssertThrowsRedline(.orderCapacityExhausted(capacity: 1)) {
            try machine.open(symbol: SymbolID(rawValue: 0), side: .sell, quantity: 5, price: 1)
        }
        try machine.apply(second, .reject)
        let third = try machine.open(symbol: SymbolID(rawValue: 0), side: .sell, quantity: 5, price: 1)
        XCTAssertEqual(machine.slot(of: third), 0, "the first one's slot (0), reused")
        XCTAssertThrowsRedline(.unknownOrder(first)) { try machine.order(first) }
        XCTAssertNotEqual(first, third)
    }

    func testTracksActiveOrders() throws {
        let machine = OrderStateMachine(capacity: 8)
        let a = try order(in: .acknowledged, machine)
        let b = try order(in: .partiallyFilled, machine)
        _ = try order(in: .filled, machine)
        let c = try order(in: .pendingCancel, machine)
        XCTAssertEqual(Set(machine.activeOrderIDs), [a, b, c])
        try machine.apply(b, .requestCancel)
        try machine.apply(b, .cancelAck)
        XCTAssertEqual(Set(machine.activeOrderIDs), [a, c])
    }

    func testRequestCancelAllMarksEveryActiveOrderAndNothingElse() throws {
        let machine = OrderStateMachine(capacity: 16)
        let pending = try order(in: .pending, machine)
        let acked = try order(in: .acknowledged, machine)
        let partial = try order(in: .partiallyFilled, machine)
        let canceling = try order(in: .pendingCancel, machine)
        let filled = try order(in: .filled, machine)
        var ids = ContiguousArray<OrderID>()
        machine.requestCancelAll(into: &ids)
        XCTAssertEqual(Set(ids), [pending, acked, partial], "one already waiting for its cancel gets no second one")
        for id in ids + [canceling] { XCTAssertEqual(try machine.order(id).status, .pendingCancel) }
        XCTAssertEqual(try machine.order(partial).filled, 4, "fills kept")
        XCTAssertEqual(try machine.order(filled).status, .filled, "a finished order is left alone")
        machine.requestCancelAll(into: &ids)
        XCTAssertEqual(ids, [], "a second cancel-all asks for nothing again")
        // Their acks then retire them from the active list, whatever the order.
        for id in [pending, acked, partial, canceling].reversed() { try machine.apply(id, .cancelAck) }
        XCTAssertEqual(machine.activeCount, 0)
        XCTAssertTrue(machine.activeOrderIDs.isEmpty)
    }

    /// The active list and each slot's place in it (kept apart from the
    /// records) agree through random opens, fills and cancels.
    func testTheActiveListStaysExactThroughRandomLifecycles() throws {
        let machine = OrderStateMachine(capacity: 64)
        var live = Set<OrderID>()
        var generator = SplitMix64(seed: 7)
        for step in 0..<20_000 {
            let roll = generator.next() % 4
            if roll == 0 || live.isEmpty, machine.available > 0 {
                let id = try machine.open(symbol: SymbolID(rawValue: 0), side: .buy, quantity: 4, price: 1)
                try machine.apply(id, .submit)
                live.insert(id)
            } else if !live.isEmpty {
                let sorted = live.sorted { $0.rawValue < $1.rawValue }
                let id = sorted[Int(generator.next() % UInt64(sorted.count))]
                switch roll {
                case 1: try machine.apply(id, .fill, fillQuantity: try machine.order(id).remaining)
                case 2: if try machine.order(id).remaining > 1 { try machine.apply(id, .partialFill, fillQuantity: 1) }
                default:
                    try machine.apply(id, .requestCancel)
                    try machine.apply(id, .cancelAck)
                }
                if try machine.order(id).status.isTerminal { live.remove(id) }
            }
            XCTAssertEqual(Set(machine.activeOrderIDs), live, "step \(step)")
            XCTAssertEqual(machine.activeCount, live.count)
        }
    }


    // Orders opened and adopted share the capacity: refused exactly at it.
    func testTakeFreeSlotRefusesExactlyAtCapacityWithAdoptedOrders() throws {
        for capacity in [1, 2, 5] {
            let machine = OrderStateMachine(capacity: capacity, session: 3)
            var ids: [OrderID] = []
            for k in 0..<capacity {
                if k % 2 == 0 {
                    let id = OrderID(rawValue: UInt64(2) << 48 | UInt64(k + 1) << 16 | UInt64(k))
                    ids.append(try machine.adopt(id, symbol: SymbolID(rawValue: 0), side: .buy, quantity: 10,
                                                 remaining: 10, price: 1).id)
                } else {
                    ids.append(try machine.open(symbol: SymbolID(rawValue: 0), side: .buy, quantity: 10, price: 1))
                }
            }
            XCTAssertEqual(machine.available, 0)
            XCTAssertThrowsError(try machine.open(symbol: SymbolID(rawValue: 0), side: .buy, quantity: 1, price: 1))
            XCTAssertThrowsError(try machine.adopt(OrderID(rawValue: UInt64(2) << 48 | 999 << 16), symbol: SymbolID(rawValue: 0),
                                                   side: .buy, quantity: 1, remaining: 1, price: 1))
            _ = try machine.apply(ids[0], .cancelAck) // an adopted (acknowledged) order ends: one slot back
            XCTAssertEqual(machine.available, 1)
            _ = try machine.open(symbol: SymbolID(rawValue: 0), side: .buy, quantity: 1, price: 1)
            XCTAssertThrowsError(try machine.open(symbol: SymbolID(rawValue: 0), side: .buy, quantity: 1, price: 1))
        }
    }
}
