/// Why an exchange client refused a request. A plain value, so throwing it
/// allocates nothing.
public enum ExchangeError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The venue (or the link to it) did not take the request.
    case unavailable
    /// The client's outbound queue is full.
    case backpressure
    /// A cancel request could not be sent.
    case cancelFailed(OrderID)
    /// This client cannot do what was asked (a query or mass cancel it lacks).
    case unsupported

    public var description: String {
        switch self {
        case .unavailable: "exchange unavailable"
        case .backpressure: "exchange client queue is full"
        case .cancelFailed(let id): "cancel of order \(id) could not be sent"
        case .unsupported: "the exchange client does not support this request"
        }
    }
}

/// An order as sent to a venue. Quantities and price are fixed point.
public struct ExchangeOrder: Sendable, Equatable {
    public let id: OrderID
    public let symbol: SymbolID
    public let side: Side
    public let quantity: Int64
    public let price: Int64

    public init(id: OrderID, symbol: SymbolID, side: Side, quantity: Int64, price: Int64) {
        self.id = id
        self.symbol = symbol
        self.side = side
        self.quantity = quantity
        self.price = price
    }
}

/// An order the venue says is open now, as a query of open orders returns it.
public struct VenueOrder: Sendable, Equatable {
    public let id: OrderID
    public let symbol: SymbolID
    public let side: Side
    /// Fixed point: what is still working at the venue.
    public let remaining: Int64
    public let price: Int64

    public init(id: OrderID, symbol: SymbolID, side: Side, remaining: Int64, price: Int64) {
        self.id = id
        self.symbol = symbol
        self.side = side
        self.remaining = remaining
        self.price = price
    }
}

/// An order the journal recovered as working, which nobody has asked the
/// venue about yet. Fixed point.
/// What a venue knows of one order, open or finished, as an order-status
/// query (FIX OrderStatusRequest, or a REST order lookup) returns it.
public struct VenueOrderStatus: Sendable, Equatable {
    public enum State: Sendable, Equatable { case open, filled, canceled, rejected, expired }
    public let id: OrderID
    public let state: State
    /// Fixed point: what the order was for.
    public let quantity: Int64
    /// Fixed point: everything executed over the order's life.
    public let filledQuantity: Int64

    public init(id: OrderID, state: State, quantity: Int64, filledQuantity: Int64) {
        self.id = id
        self.state = state
        self.quantity = quantity
        self.filledQuantity = filledQuantity
    }
}

public struct InDoubtOrder: Sendable, Equatable {
    public let id: OrderID
    public let symbol: SymbolID
    public let side: Side
    public let remaining: Int64
    public let price: Int64
}

/// What a venue reports back about an order.
public enum ExchangeEvent: Sendable, Equatable {
    case acknowledged(OrderID)
    /// `quantity` executed at `price` (fixed point). `cumulative`: everything
    /// the order has executed so far, this fill included (FIX CumQty), or 0
    /// where the venue does not say. With it, a fill already counted (by
    /// reconciliation, which asked the venue) is not counted again.
    case filled(OrderID, quantity: Int64, price: Int64, cumulative: Int64 = 0)
    case canceled(OrderID)
    case cancelRejected(OrderID)
    case rejected(OrderID)
    case expired(OrderID)

    public var orderID: OrderID {
        switch self {
        case .acknowledged(let id), .filled(let id, _, _, _), .canceled(let id), .cancelRejected(let id),
            .rejected(let id), .expired(let id):
            id
        }
    }
}

/// The router's view of a venue: send orders and cancels, then poll what came
/// back. A real client wraps a venue's gateway; `SimulatedExchange` is the
/// in-process one for tests, demos and the load test.
public protocol ExchangeClient: AnyObject {
    /// Send a new order. Throwing means the order never reached the venue.
    func submit(_ order: ExchangeOrder) throws(ExchangeError)
    /// Ask the venue to cancel. Throwing means the request was not sent.
    func cancel(_ id: OrderID) throws(ExchangeError)
    /// Hand every event received since the last poll to `body`, oldest first.
    func pollEvents(_ body: (ExchangeEvent) -> Void)
    /// The orders open at the venue now (for reconciliation after a restart).
    /// Throws `.unsupported` where the venue offers no such query.
    func openOrders() throws(ExchangeError) -> [VenueOrder]
    /// What the venue knows of one order, finished or not; nil if it never
    /// received it. Throws `.unsupported` where the venue offers no such query.
    /// Reconciliation asks it for each order in doubt that is no longer open,
    /// to tell "filled while the engine was down" from "canceled".
    func orderStatus(_ id: OrderID) throws(ExchangeError) -> VenueOrderStatus?
    /// Cancel every open order of this client's session: the orders this
    /// client sent, never another session's. A router's cancel-all uses it,
    /// a strategy's own halt (its dead-man) included, so a venue whose mass
    /// cancel reaches further (a whole account that several routers share)
    /// must leave it `.unsupported` here: the router then cancels order by order.
    /// The router may call it from inside `pollEvents`'s body: a halt seen
    /// while it waits for room in its ring to the risk side is answered at
    /// once (`OrderRouter`'s cancel at the venue while waiting).
    func massCancel() throws(ExchangeError)
}

extension ExchangeClient {
    public func openOrders() throws(ExchangeError) -> [VenueOrder] { throw .unsupported }
    public func orderStatus(_ id: OrderID) throws(ExchangeError) -> VenueOrderStatus? { throw .unsupported }
    public func massCancel() throws(ExchangeError) { throw .unsupported }
}
