/// What each metric means, for the `# HELP` lines Prometheus (and `promtool
/// check metrics`) expect: swift-metrics' factory has no place for them.
/// Every metric Redline publishes has an entry; `MetricHelpTests` checks it.
public enum MetricHelp {
    public static let text: [String: String] = [
        "anomalous_events_total": "Events that should not happen (fills beyond an order, unknown orders), by kind.",
        "book_exposure_usd": "The book's worst-case exposure, positions and working orders valued at the mark, in USD.",
        "book_utilization_percent": "The book's worst-case exposure as a percentage of maxTotalNotional.",
        "breaker_cooldown_seconds": "The circuit breaker's current cooldown before it lifts a transient halt.",
        "breaker_escalations_total": "Times the circuit breaker escalated a repeated transient halt to one only an operator lifts.",
        "breaker_trips_total": "Transient halts the circuit breaker took charge of, by reason.",
        "cancel_failures_total": "Cancels that failed after every retry.",
        "cancels_unanswered_total": "Cancels the venue left unanswered past the router's cancelAnswerTimeout, by how each was settled: resent, settled (the venue had ended the order), unknown (the venue says it never had it; resent, still reserved), unasked (the query failed; resent).",
        "check_latency_seconds": "The pre-order check's latency, sampled one order in N.",
        "drawdown_usd": "Equity below its peak, in USD.",
        "equity_peak_usd": "The highest equity (realized plus unrealized P&L) of the day, in USD.",
        "equity_usd": "Realized plus unrealized P&L, in USD.",
        "freezes_by_class_total": "Freezes and REDUCING entries by class: transient (the breaker lifts them), persistent (an operator must), reducing.",
        "freeze_triggered_total": "Freezes (HALTED) and REDUCING entries, by reason.",
        "journal_durable_lag_records": "Records handed to the journal and not yet synced to disk, those waiting in the writer's ring included.",
        "journal_commit_in_progress_seconds": "How long the journal writer's current commit or rotation has been in the kernel; 0 between them.",
        "journal_durable_seq": "The last journal sequence number known durable.",
        "journal_errors_total": "Journal write or sync failures, by errno.",
        "journal_events_not_journaled_total": "Risk events the journal could not take (trading halts on the first).",
        "journal_fsyncs_total": "Journal group commits (write and fdatasync).",
        "journal_io_uring": "1 when the journal writes with io_uring, 0 with pwrite.",
        "journal_io_uring_fallbacks_total": "Times io_uring was unavailable and the journal fell back to pwrite.",
        "journal_records_total": "Records the journal has made durable.",
        "journal_snapshots_total": "Journal snapshots written.",
        "journal_torn_tails_total": "Torn tails cut from the journal at recovery.",
        "limit_schedule_scale": "The scale the time-of-day limit schedule applies to the limits now.",
        "orders_blocked_total": "Orders the pre-order check blocked, by reason.",
        "orders_canceled_total": "Cancel acknowledgements received.",
        "orders_filled_total": "Orders completely filled.",
        "orders_in_doubt": "Orders recovered from the journal that the venue has not yet confirmed or released.",
        "orders_in_doubt_recovered_total": "Working orders recovered from the journal as in doubt.",
        "orders_in_doubt_settled_total": "Orders in doubt settled by reconciliation with the venue, by settlement.",
        "orders_placed_total": "Orders that passed the check and were sent.",
        "orders_rejected_total": "Orders the venue rejected, or that could not be sent.",
        "place_order_latency_seconds": "placeOrder's latency (check, reservation, hand-off, submit), sampled one order in N.",
        "pnl_realized_usd": "Realized P&L of the book, in USD.",
        "pnl_unrealized_usd": "Unrealized P&L of the book at the marks, in USD.",
        "ring_depth": "Events waiting in a strategy's ring to the risk thread.",
        "ring_full_events_total": "Events a full ring refused, by ring.",
        "ring_full_total": "Times a router met a full ring to the risk thread.",
        "risk_events_applied_total": "Events the risk thread applied.",
        "risk_loop_idle_total": "Risk-thread loop passes with nothing to do.",
        "risk_loop_iterations_total": "Risk-thread loop passes.",
        "risk_thread_running": "1 while the pinned risk thread runs.",
        "strategies_halted": "Strategies halted alone (their dead-man) now.",
        "strategy_freezes_total": "A strategy's own halts, by strategy and reason.",
        "strategy_halt_changes_total": "Steps of strategies' own halts (halted, resumed, escalated, released).",
        "strategy_orders_blocked_total": "Orders blocked, by strategy and reason.",
        "strategy_orders_canceled_total": "Cancel acknowledgements, by strategy.",
        "strategy_orders_filled_total": "Orders completely filled, by strategy.",
        "strategy_orders_placed_total": "Orders sent, by strategy.",
        "strategy_orders_rejected_total": "Orders rejected, by strategy.",
        "strategy_working_orders": "A strategy's working orders at its router's last order or poll.",
        "symbol_limit_in_force_usd": "A symbol's inventory limit in force now (after schedule and volatility scaling), in USD.",
        "symbol_pnl_realized_usd": "A symbol's realized P&L, in USD.",
        "symbol_pnl_unrealized_usd": "A symbol's unrealized P&L at its mark, in USD.",
        "symbol_utilization_percent": "A symbol's worst-case exposure as a percentage of its inventory limit.",
        "symbol_volatility_scale": "The scale volatility applies to a symbol's limits now.",
        "trading_frozen": "1 while trading is HALTED.",
        "trading_reducing": "1 while trading is REDUCING (only orders that reduce risk).",
        "trading_state": "The trading state: 0 active, 1 reducing, 2 halted.",
        "unfreeze_total": "Halts lifted, by an operator or the circuit breaker.",
    ]

    /// `exposition` with `prefix` before every metric name and a `# HELP`
    /// line before every `# TYPE` line.
    public static func prefixed(_ exposition: String, prefix: String) -> String {
        var out = ""
        out.reserveCapacity(exposition.utf8.count + exposition.utf8.count / 4)
        for line in exposition.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("# TYPE ") {
                let name = line.dropFirst(7).prefix { $0 != " " }
                out += "# HELP \(prefix)\(name) \(text[String(name)] ?? "Redline's \(name).")\n"
                out += "# TYPE " + prefix + line.dropFirst(7)
            } else if line.isEmpty || line.hasPrefix("#") {
                out += line
            } else {
                out += prefix + line
            }
            out += "\n"
        }
        while out.hasSuffix("\n\n") { out.removeLast() }
        return out
    }
}
