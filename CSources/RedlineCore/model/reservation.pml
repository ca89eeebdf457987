/*
 * reservation.pml - a Promela model of the reservation protocol in
 * rl_position_table.h and of the risk side in rl_engine.c, checked by spin.
 *
 *   spin -DCHECKERS=2 -a reservation.pml && cc -O2 -DSAFETY -DCOLLAPSE -o pan pan.c && ./pan -m1000000
 *
 * scripts/model-check.sh runs the configurations CI checks.
 *
 * What it covers, step for step as the C code does them (each access to
 * shared state is its own step; what a thread computes from what it read is
 * folded into the step that reads it):
 *  - CHECKERS checker processes. Each reserves ORDERS times a quantity of 1
 *    (or, with QTY2, 1 or 2) on a symbol and side it picks, at an order price it picks: read the
 *    side word; decide whether the order raises its side; for a raising
 *    order read the book word {total, generation, trading state}, then that
 *    generation's symbol limit, then its book limit, decide, and CAS the book
 *    word (the acceptance); for one that does not raise, charge the total
 *    unchecked; then CAS the side word, giving the charge back and starting
 *    over when it moved; then give back the order-price extra.
 *  - One risk process doing up to RISK_OPS of: a release of 1 (clamped to
 *    what is working), a fill of 1 (the position moves; an over-fill adds
 *    its excess to the side), a mark (both sides revalued, up or down), a
 *    symbol limit change, a book limit change, a manual halt; after each,
 *    granting the overlap credit back. Every side change is the C
 *    rl_engine_replace_side: raise = charge first, then read the other
 *    side, then the total, then CAS (REDUCING first if the raise breaches a
 *    limit); lower = cap the credit, CAS, then give
 *    back. A state change moves the book word to a new generation. A limit
 *    change goes REDUCING first if it is under the exposure, then writes the
 *    next generation's buffer, moves the generation, and updates the old
 *    buffer.
 *
 * What it asserts:
 *  - In every reachable state (a never claim): I3, total >= sum over
 *    symbols of max(E(buy), E(sell)); the lemma credit <= min(E(buy),
 *    E(sell)); and in ACTIVE the book's true exposure is within its limit
 *    (whatever pushes it over, a market move or a lowered limit, goes
 *    REDUCING first). With QTY2 the last is checked between the risk side's
 *    operations (see the never claim).
 *  - At every acceptance (the book CAS): the state in force is ACTIVE; the
 *    order's side valued at max(order price, side price) is within the
 *    symbol limit in force (I2); and, if the side has not moved since it
 *    was read (otherwise its side CAS fails and nothing is accepted), the
 *    book's true exposure with the order so valued is within the book limit
 *    in force (I1).
 *
 * What it abstracts:
 *  - A 16-byte word is read in one step. In C the two halves are loaded
 *    separately and may tear; a torn value only ever feeds a CAS, which
 *    then fails, so this adds no behaviour the model lacks.
 *  - total += x is one step. In C it is a CAS loop on the book word that
 *    keeps the generation and state: the same effect, retried.
 *  - E(q, p) is q * p for q > 0. The C code rounds up and saturates; any
 *    fixed function of (q, p) makes the marginal charges telescope the same.
 *  - Prices are marks (positive). The provisional price of a side with no
 *    mark only rises, inside the checker's own side CAS, and is charged there.
 *  - The freeze word that routers poll is not modelled: a raising order is
 *    decided in the state the book word carries, in the CAS that accepts it.
 *  - Small domains: quantities of 1, prices 1 and 2, limits 2 to 6. With
 *    quantities of 1 alone, an order that does not raise its side never
 *    charges anything (it would need more than its side's short extent and
 *    at most twice it): QTY2, from a short start (SHORT_START), covers it.
 *
 * Mutant, which must fail (scripts/model-check.sh checks it):
 *   MUTANT_TOTAL_FIRST  a raise's judgement reads the total before the other
 *                       side (the C code until CI found it): a cover that
 *                       does not raise its side, published between the two
 *                       reads, has its overlap subtracted without its charge.
 */

#ifndef SYMBOLS
#define SYMBOLS 1
#endif
#ifndef CHECKERS
#define CHECKERS 2
#endif
#ifndef ORDERS
#define ORDERS 1
#endif
#ifndef RISK_OPS
#define RISK_OPS 2
#endif

#define ACTIVE 0
#define HALTED 1
#define REDUCING 2

/* Side words: index 2 * symbol + side (0 buy, 1 sell). */
short ext[2 * SYMBOLS];   /* extent */
byte price[2 * SYMBOLS];  /* valuation price (the mark) */
short pos[SYMBOLS];       /* position: risk side only */
short credit[SYMBOLS];    /* overlap credit: risk side only */
short limit[2 * SYMBOLS]; /* limit[SYMBOLS * generation parity + symbol]: double-buffered */
short maxt[2];            /* by generation parity */
short total;              /* the book word: total, ... */
short owed;               /* refunds the risk side has deferred (rl_engine_refund) */
byte gen;                 /* ... generation of the limits, ... */
byte state;               /* ... and trading state, changed in one CAS */
#ifdef QTY2
bit risk_busy;            /* ghost: the risk side is inside an operation */
#define SET_BUSY(b) risk_busy = b
#else
#define SET_BUSY(b) skip      /* not needed: I1 holds in every state */
#endif

inline E(q, p, out) { if :: (q) > 0 -> out = (q) * (p) :: else -> out = 0 fi }

/* The book's true worst-case exposure, with side `w` at extent `q` and price
 * `p` (w = 255: every side as it is). */
inline true_sum(w, q, p, out) {
    ti = 0; out = 0;
    do
    :: ti < SYMBOLS ->
        if :: 2 * ti == w -> E(q, p, tb) :: else -> E(ext[2 * ti], price[2 * ti], tb) fi;
        if :: 2 * ti + 1 == w -> E(q, p, ts) :: else -> E(ext[2 * ti + 1], price[2 * ti + 1], ts) fi;
        out = out + (tb > ts -> tb : ts);
        ti++
    :: else -> break
    od;
    ti = 0; tb = 0; ts = 0
}

/* ---- The checker: rl_position_table_check ------------------------------- */

proctype checker() {
    byte n = 0, s, d, w, u, q, ver, st, ti;
    short cq, cp, nq, charge, extra, at_order, tot, lim, mt, value, mine, tb, ts, before, after;
    bool raises;
    do
    :: n == ORDERS -> break
    :: n < ORDERS ->
        /* Pick an order: symbol, side, price. */
        if :: s = 0 :: SYMBOLS > 1 -> s = 1 fi;
        if :: d = 0 :: d = 1 fi;
#ifdef ONE_PRICE_PER_CHECKER
        u = 1 + _pid % 2; /* fewer branches, for the 3-checker configuration */
#else
        if :: u = 1 :: u = 2 fi;
#endif
#ifdef QTY2
        if :: q = 1 :: q = 2 fi; /* 2 against a position of 1: an order that does not raise its side but charges */
#else
        q = 1;
#endif
        w = 2 * s + d;
retry:  skip;
        /* Read the side word, and decide what the order does to it. */
        d_step {
            cq = ext[w]; cp = price[w]; nq = cq + q;
            E(cq, cp, before); E(nq, cp, after);
            charge = after - before;
            raises = (nq > cq && nq > -cq);
            value = (u > cp -> u : cp);
            at_order = nq * value;
            extra = 0; before = 0; after = 0
        };
        if
        :: raises ->
            /* The book word: total, generation and state in one read. */
            d_step { tot = total; ver = gen; st = state };
            if :: st != ACTIVE -> goto rejected :: else -> skip fi;
            d_step { lim = limit[SYMBOLS * (ver % 2) + s] };
            if :: at_order > lim -> goto rejected :: else -> skip fi;
            d_step { mt = maxt[ver % 2]; E(nq, cp, extra); extra = at_order - extra };
            if :: tot + charge + extra > mt -> goto rejected :: else -> skip fi;
            /* The acceptance: the book CAS. */
            d_step {
                if
                :: total == tot && gen == ver && state == st ->
                    total = tot + charge + extra;
                    assert(state == ACTIVE);
                    assert(at_order <= limit[SYMBOLS * (gen % 2) + s]);
                    if
                    :: ext[w] == cq && price[w] == cp ->
                        true_sum(w, nq, value, mine);
                        assert(mine <= maxt[gen % 2]);
                        mine = 0
                    :: else -> skip
                    fi
                :: else -> charge = -1 /* marks a failed CAS */
                fi
            };
            if :: charge == -1 -> goto retry :: else -> skip fi
        :: else ->
            d_step { total = total + charge }
        fi;
        /* Publish: the side CAS; on failure give everything back and start over. */
        d_step {
            if
            :: ext[w] == cq && price[w] == cp -> ext[w] = nq
            :: else -> total = total - charge - extra; charge = -1
            fi
        };
        if :: charge == -1 -> goto retry :: else -> skip fi;
        d_step { total = total - extra };
rejected: skip;
        d_step {
            n++;
            s = 0; d = 0; w = 0; u = 0; q = 0; ver = 0; st = 0; cq = 0; cp = 0; nq = 0; charge = 0; extra = 0;
            at_order = 0; tot = 0; lim = 0; mt = 0; value = 0; raises = false
        }
    od
}

/* ---- The risk side: rl_engine.c ---------------------------------------- */

/* The controller: a new state moves the book word to a new generation. */
inline publish_reducing() {
    d_step { if :: state == ACTIVE -> state = REDUCING; gen++ :: else -> skip fi }
}

/* rl_engine_charge: taken out of what is owed first. */
inline charge(x) {
    d_step { if :: owed >= x -> owed = owed - x :: else -> total = total + x - owed; owed = 0 fi }
}

/* rl_engine_flush. */
inline flush() {
    d_step { total = total - owed; owed = 0 }
}

/* rl_engine_replace_side for side `w` moved by `dq` and valued at `np`,
 * retried until its CAS succeeds. Arguments are copied first: inline
 * arguments are substituted as text. */
inline replace_side(w, dq, np) {
    rw = w; rdq = dq; rnp = np;
    do
    :: d_step { rq = ext[rw]; rp = price[rw]; E(rq, rp, rb); E(rq + rdq, rnp, ra) };
       if
       :: ra > rb ->
           /* Charge first, then REDUCING before publishing if the raise breaches
            * the side's limit or the book's as the total now stands (less what
            * is owed, which the total will shed). */
           charge(ra - rb);
           d_step { rl = limit[SYMBOLS * (gen % 2) + rw / 2]; rm = maxt[gen % 2] };
#ifdef MUTANT_TOTAL_FIRST
           d_step { rt = total - owed }; /* the total read before the other side (the C code until CI found it) */
#endif
           /* The book as it stands once this raise's overlap with the other
            * side is granted back as credit: the other side read in its own
            * step, then the total. */
           d_step { E(ext[rw ^ 1], price[rw ^ 1], ro); ro = (ra < ro -> ra : ro) - credit[rw / 2];
                    ro = (ro > 0 -> ro : 0) };
#ifdef MUTANT_TOTAL_FIRST
           if :: ra > rl || rt - ro > rm -> publish_reducing() :: else -> skip fi;
#else
           if :: ra > rl || total - owed - ro > rm -> publish_reducing() :: else -> skip fi;
#endif
           d_step {
               if
               :: ext[rw] == rq && price[rw] == rp -> ext[rw] = rq + rdq; price[rw] = rnp; rq = -99
               :: else -> owed = owed + (ra - rb)
               fi
           };
           if :: rq == -99 -> break :: else -> skip fi
       :: else ->
           if :: credit[rw / 2] > ra -> charge(credit[rw / 2] - ra); d_step { credit[rw / 2] = ra } :: else -> skip fi;
           d_step {
               if
               :: ext[rw] == rq && price[rw] == rp -> ext[rw] = rq + rdq; price[rw] = rnp; rq = -99
               :: else -> skip
               fi
           };
           if :: rq == -99 -> d_step { owed = owed + (rb - ra) }; break :: else -> skip fi
       fi
    od;
    skip;
    d_step { rw = 0; rdq = 0; rnp = 0; rq = 0; rp = 0; rb = 0; ra = 0; rl = 0; rm = 0; ro = 0; rt = 0 }
}

/* rl_position_table_refresh_credit: each side read in its own step. */
inline refresh_credit(sym) {
    d_step { E(ext[2 * sym], price[2 * sym], cb) };
    d_step { E(ext[2 * sym + 1], price[2 * sym + 1], cs) };
    d_step {
        ov = (cb < cs -> cb : cs);
        if :: ov > credit[sym] -> owed = owed + (ov - credit[sym]); credit[sym] = ov :: else -> skip fi;
        cb = 0; cs = 0; ov = 0
    }
}

proctype risk() {
    byte k = 0, s, d, p, rw, rnp, lp;
    short working, rdq, rq, rp, rb, ra, rl, rm, ro, rt, cb, cs, ov, nl, eb, es;
    do
    :: k == RISK_OPS -> break
    :: k < RISK_OPS ->
        SET_BUSY(1);
        if :: s = 0 :: SYMBOLS > 1 -> s = 1 fi;
        if
        :: /* Release 1 on a side, clamped to what is working. */
           if :: d = 0 :: d = 1 fi;
           d_step { working = (d == 0 -> ext[2 * s] - pos[s] : ext[2 * s + 1] + pos[s]) };
           if :: working > 0 -> replace_side(2 * s + d, -1, price[2 * s + d]) :: else -> skip fi
        :: /* A fill of 1 on side d at the mark; an over-fill adds the excess to the side. */
           if :: d = 0 :: d = 1 fi;
           d_step {
               working = (d == 0 -> ext[2 * s] - pos[s] : ext[2 * s + 1] + pos[s]);
               pos[s] = pos[s] + (d == 0 -> 1 : -1)
           };
           replace_side(2 * s + 1 - d, -1, price[2 * s + 1 - d]);
           if :: working < 1 -> replace_side(2 * s + d, 1, price[2 * s + d]) :: else -> skip fi
        :: /* A mark: both sides revalued, up or down. */
           if :: p = 1 :: p = 2 fi;
           replace_side(2 * s, 0, p);
           replace_side(2 * s + 1, 0, p)
        :: /* A symbol limit change: REDUCING first if it is under the exposure. */
           if :: nl = 2 :: nl = 4 fi;
           d_step { E(ext[2 * s], price[2 * s], eb) };
           d_step { E(ext[2 * s + 1], price[2 * s + 1], es) };
           if :: eb > nl || es > nl -> publish_reducing() :: else -> skip fi;
           d_step { lp = (gen + 1) % 2; limit[SYMBOLS * lp + s] = nl };
           d_step { gen++ };
           d_step { limit[SYMBOLS * (1 - lp) + s] = nl }
        :: /* A book limit change: the next buffer, then one CAS on the book
            * word that moves the generation and goes REDUCING if the total it
            * replaces is over the new limit; then the old buffer. */
           if :: nl = 3 :: nl = 6 fi;
           flush();
           d_step { lp = (gen + 1) % 2; maxt[lp] = nl };
           d_step { gen++; if :: state == ACTIVE && total > nl -> state = REDUCING :: else -> skip fi };
           d_step { maxt[1 - lp] = nl }
        :: /* A manual halt. */
           d_step { if :: state != HALTED -> state = HALTED; gen++ :: else -> skip fi }
        fi;
        refresh_credit(s);
        /* A step flushes what it owes at its end: after this op, or a later one. */
        if :: flush() :: k + 1 < RISK_OPS -> skip fi;
        d_step { k++; s = 0; d = 0; p = 0; lp = 0; working = 0; nl = 0; eb = 0; es = 0; SET_BUSY(0) }
    od
}

/* I3 and the credit lemma, in every reachable state: a never claim is
 * evaluated after every step of every process. */
#define EXP(w) (ext[w] > 0 -> ext[w] * price[w] : 0)
#define WORST(s) (EXP(2 * (s)) > EXP(2 * (s) + 1) -> EXP(2 * (s)) : EXP(2 * (s) + 1))
#define OVERLAP(s) (EXP(2 * (s)) < EXP(2 * (s) + 1) -> EXP(2 * (s)) : EXP(2 * (s) + 1))
#if SYMBOLS > 1
#define TRUE_SUM (WORST(0) + WORST(1))
#define CREDIT_OK (credit[0] <= OVERLAP(0) && credit[1] <= OVERLAP(1))
#else
#define TRUE_SUM (WORST(0))
#define CREDIT_OK (credit[0] <= OVERLAP(0))
#endif

never {
    do
    :: assert(total >= TRUE_SUM && CREDIT_OK);
       /* A move that puts the book over its limit is published in REDUCING.
        * With orders of 2 (QTY2), between a mark's two side moves: an order
        * that does not raise its side, valued at the side's new price while
        * the other side still has the old one, can show the book over its
        * limit until the second move, which judges it. Neither consistent
        * book (both sides at the old price, or both at the new) is over by
        * that order: checked once the operation is done. */
#ifdef QTY2
       assert(state != ACTIVE || risk_busy || TRUE_SUM <= maxt[gen % 2])
#else
       assert(state != ACTIVE || TRUE_SUM <= maxt[gen % 2])
#endif
    od
}

init {
    d_step {
#ifdef SHORT_START
        /* Symbol 0 short 1 at price 1; symbol 1 a buy of 1 working at price
         * 2; the book at 3 of 3: a rise of symbol 0 breaches it. */
        pos[0] = -1; ext[0] = -1; ext[1] = 1; price[0] = 1; price[1] = 1;
        limit[0] = 3; limit[SYMBOLS] = 3;
        pos[1] = 0; ext[2] = 1; ext[3] = 0; price[2] = 2; price[3] = 2;
        limit[1] = 4; limit[SYMBOLS + 1] = 4;
        maxt[0] = 3; maxt[1] = 3;
        total = 3; gen = 0; state = ACTIVE
#else
        /* Symbol 0 starts long 1 at price 1; symbol 1 (if any) flat at price 2. */
        pos[0] = 1; ext[0] = 1; ext[1] = -1; price[0] = 1; price[1] = 1;
        limit[0] = 3; limit[SYMBOLS] = 3;
#if SYMBOLS > 1
        pos[1] = 0; ext[2] = 0; ext[3] = 0; price[2] = 2; price[3] = 2;
        limit[1] = 4; limit[SYMBOLS + 1] = 4;
#endif
        maxt[0] = 5; maxt[1] = 5;
        total = 1; gen = 0; state = ACTIVE
#endif
    };
    atomic {
        run risk();
        byte i = 0;
        do :: i < CHECKERS -> run checker(); i++ :: else -> break od
    }
}
