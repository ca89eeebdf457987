/*
 * halt.pml - a model of the halt from any thread (rl_engine_halt_now) beside
 * the trading-state controller (rl_engine.c) and a raising check
 * (rl_position_table_check_for). Checked by scripts/model-check.sh.
 *
 * Shared state, each access one atomic step as in the C code:
 *   the book word's hi half: state, the halt-request bit, the generation;
 *   the freeze word: state, epoch.
 * The controller also keeps its machine's state and the last word it made
 * visible (`published`).
 *
 * Properties:
 *   P1  A raising check is never accepted while the freeze word shows HALTED,
 *       unless the controller is lifting that halt (its book step done, its
 *       word step not yet): every halt a router can see holds the book.
 *   P2  The controller never hides a halt: a word an outside halt showed
 *       stays HALTED until the controller lifts it on purpose, and its word
 *       CAS fails only over an outside halt, never while lifting.
 *   P3  At the end, after the controller's last step has taken everything
 *       in: no request is left in the book, machine, book and word agree,
 *       and an outside halt shown after the last lift is still in force.
 *
 * Sizes: HALTERS outside halters (1-2), CHECKERS checkers of ORDERS tries,
 * RISK_OPS controller operations chosen freely among breach, cleared, own
 * halt, unfreeze and tick.
 *
 * Mutants, each of which must fail (scripts/model-check.sh checks that they
 * do, so the properties can see what they claim to):
 *   MUTANT_NO_REQUEST     the halter shows the word without the book request;
 *   MUTANT_REQUEST_FIRST  the halter reads the word after its request;
 *   MUTANT_STORE          the controller stores its word instead of a CAS.
 */
#ifndef HALTERS
#define HALTERS 2
#endif
#ifndef CHECKERS
#define CHECKERS 1
#endif
#ifndef ORDERS
#define ORDERS 2
#endif
#ifndef RISK_OPS
#define RISK_OPS 3
#endif

#define ACTIVE 0
#define HALTED 1
#define REDUCING 2

/* The book word's hi half. */
byte bstate = ACTIVE;
bit breq = 0;
byte bgen = 0;
/* The freeze word. */
byte wstate = ACTIVE;
byte wepoch = 0;
/* The controller's own. */
byte mstate = ACTIVE;
byte pstate = ACTIVE;
byte pepoch = 0;
/* Ghosts. */
bit lifting = 0;           /* between a lift's book step and its word step */
bit outside_shown = 0;     /* an outside halt showed since the last lift */
byte done = 0;

/* The book's generation moves, the request bit stays (rl_position_table_advance). */
inline advance(next) {
    atomic { bgen = (bgen + 1) % 16; bstate = next; lifting = (pstate == HALTED && next != HALTED) }
}

/* rl_engine_show: book, then the word by CAS from `published`. */
inline show_word(next, ok) {
    advance(next);
    atomic {
        if
#ifdef MUTANT_STORE
        :: true ->            /* a plain store, as when the controller was the only writer */
#else
        :: (wstate == pstate && wepoch == pepoch) ->
#endif
            if
            :: (pstate == HALTED && next != HALTED) -> outside_shown = 0
            :: else -> skip
            fi;
            wstate = next; wepoch = pepoch + 1; ok = 1;
            assert(!outside_shown || wstate == HALTED) /* P2 */
        :: else ->
            assert(!lifting); /* P2 */
            ok = 0
        fi;
        lifting = 0
    }
    if
    :: ok -> pstate = next; pepoch = pepoch + 1
    :: else -> skip
    fi
}

/* rl_engine_take_in_halt. */
inline take_in() {
    do
    :: atomic { rq = breq; shown = (wstate != pstate || wepoch != pepoch); ws = wstate; we = wepoch }
       if
       :: (!rq && !shown) -> break
       :: (rq || shown) && mstate == HALTED ->
           assert(!shown);          /* an outside halt stores only over a word that is not HALTED */
           atomic { breq = 0 };
           break
       :: (rq || shown) && mstate != HALTED && shown ->
           advance(HALTED);         /* adopt the outside word as it shows */
           pstate = ws; pepoch = we; mstate = HALTED;
           atomic { breq = 0 };     /* clear_halt_request: the state bits hold it now */
           break
       :: (rq || shown) && mstate != HALTED && !shown ->
           show_word(HALTED, ok);
           if
           :: ok -> mstate = HALTED; atomic { breq = 0 }; break
           :: else -> skip          /* its word landed meanwhile: adopt it */
           fi
       fi
    od
}

/* rl_engine_control: take in first (or not: the C code looks at the book
 * only when the request count or the word moved, and a request may not have
 * counted yet); publish; on a failed CAS roll back, take in, again. */
inline control(target, allowed) {
    if
    :: take_in()
    :: skip
    fi;
    do
    :: saved = mstate;
       if
       :: allowed ->
           mstate = target;
           show_word(target, ok);
           if
           :: ok -> break
           :: else -> mstate = saved; take_in()
           fi
       :: else -> break
       fi
    od
}

active proctype Controller() {
    byte saved, ws, we;
    bit rq, ok, shown;
    byte n = 0;
    do
    :: n < RISK_OPS ->
        n++;
        if
        :: control(REDUCING, mstate == ACTIVE)             /* a limit breach */
        :: control(ACTIVE, mstate == REDUCING)             /* limits cleared */
        :: control(HALTED, mstate != HALTED)               /* its own halt (a journal failure) */
        :: control(ACTIVE, mstate == HALTED)               /* an operator's unfreeze */
        :: take_in()                                       /* a tick */
        fi
    :: n >= RISK_OPS -> break
    od;
    /* The last tick, once every halter is done: P3. */
    (done == HALTERS + CHECKERS);
    take_in();
    assert(breq == 0);
    assert(mstate == pstate && pstate == wstate && pepoch == wepoch && bstate == mstate);
    assert(!outside_shown || wstate == HALTED)
}

/* rl_engine_halt_now. */
active [HALTERS] proctype Halter() {
    byte s, e;
    bit halted = 0;
    atomic { s = wstate; e = wepoch }
    do
    :: s == HALTED || halted -> break
    :: else ->
#ifndef MUTANT_NO_REQUEST
        atomic { breq = 1 };  /* request_halt (no change when set) */
#endif
#ifdef MUTANT_REQUEST_FIRST
        atomic { s = wstate; e = wepoch }; /* the word read after the request, not before */
        if
        :: s == HALTED -> break
        :: else -> skip
        fi;
#endif
        atomic {
            if
            :: (wstate == s && wepoch == e) -> wstate = HALTED; wepoch = e + 1; halted = 1; outside_shown = 1
            :: else -> s = wstate; e = wepoch
            fi
        }
    od;
    done++
}

/* A raising check: decide in the book word read, accept by CAS on it. */
active [CHECKERS] proctype Checker() {
    byte g, st, tries = 0;
    bit rq;
    do
    :: tries < ORDERS ->
        atomic { g = bgen; st = bstate; rq = breq }
        if
        :: (rq || st != ACTIVE) -> tries++      /* refused: FROZEN or REDUCE_ONLY */
        :: else ->
            atomic {
                if
                :: (bgen == g && bstate == st && breq == rq) ->
                    assert(wstate != HALTED || lifting); /* P1 */
                    tries++
                :: else -> skip                  /* decide again */
                fi
            }
        fi
    :: tries >= ORDERS -> break
    od;
    done++
}
