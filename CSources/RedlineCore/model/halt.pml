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
 * Halts have a class: HALTED for a persistent reason (only an operator's
 * unfreeze lifts it; an outside halt is persistent: an edge collapse, the
 * kill switch, or a fill no position can take) and HALTED_T for a
 * transient one (the breaker may lift it too). A request taken in over a
 * persistent halt may publish a new HALTED word (an unrecordable fill's
 * takes the other halt over) or only be cleared.
 *
 * Properties:
 *   P1  A raising check is never accepted while the freeze word shows HALTED,
 *       unless the controller is lifting that halt (its book step done, its
 *       word step not yet): every halt a router can see holds the book. And
 *       none after a halter is done, unless an operator lifts it.
 *   P4  Nothing but an operator lifts the word after a halter is done: from
 *       then on the freeze word shows HALTED, so reducing orders, which look
 *       at the word alone, stop too. (A halter over a transient halt makes
 *       it persistent in the word itself; the breaker's lift racing it fails
 *       its word CAS.)
 *   P2  The controller never hides a halt: a word an outside halt showed
 *       stays HALTED until the controller lifts it on purpose, and its word
 *       CAS fails only over an outside halt; while lifting, only a lift of a
 *       transient halt that an outside halt made persistent.
 *   P5  An operator's unfreeze lifts no halt whose CAS landed after the
 *       unfreeze took halts in (one landing while the lift is published
 *       stands: the lift is not retried over it). And taking a halt in
 *       ends (at most three looks).
 *   P6  (BOUNDED_UNFREEZE) An operator's unfreeze carries the kill-switch
 *       pulls its requester had seen: it lifts no halt while a pull made
 *       after that look has returned, whether the pull stored a word or
 *       found one HALTED for a persistent reason and stored nothing
 *       (rl_engine.c, RL_CONTROL_UNFREEZE: take in, mark, read the count).
 *   P3  At the end, after the controller's last step has taken everything
 *       in: no request is left in the book, machine, book and word agree,
 *       an outside halt shown after the last lift is still in force, and
 *       one asked for after the last operator's lift shows HALTED for a
 *       persistent reason.
 *
 * Sizes: HALTERS outside halters (1-2), the first PULLERS of them kill-switch
 * pulls (their count moves first, as rl_engine_request_freeze_counted's),
 * CHECKERS checkers of ORDERS tries,
 * RISK_OPS controller operations chosen freely among breach, cleared, its
 * own persistent or transient halt, an operator's unfreeze, the breaker's
 * lift and tick.
 *
 * Mutants, each of which must fail (scripts/model-check.sh checks that they
 * do, so the properties can see what they claim to):
 *   MUTANT_NO_REQUEST     the halter shows the word without the book request;
 *   MUTANT_REQUEST_FIRST  the halter reads the word after its request;
 *   MUTANT_STORE          the controller stores its word instead of a CAS;
 *   MUTANT_TRANSIENT_SKIP the halter adds nothing to a word HALTED for a
 *                         transient reason (the breaker may then lift it);
 *   MUTANT_TRANSIENT_REQUEST_ONLY  over a transient halt the halter leaves
 *                         its book request and stores no word (the design
 *                         before: a breaker lift racing it showed ACTIVE
 *                         until the next step, and reducing orders passed);
 *   MUTANT_RETRY_LIFT     a lift whose CAS failed over a new halt takes it
 *                         in and lifts again (an unfreeze lifted a kill
 *                         switch pulled while it was published).
 * With BOUNDED_UNFREEZE (the operator's unfreeze bounded by the pulls seen,
 * as the control socket sends it), the lifting mark's mutants:
 *   MUTANT_NO_MARK        the count is read with no mark (before 1782dca: a
 *                         pull over a persistent halt stored nothing, and
 *                         the lift went through);
 *   MUTANT_MARK_WITHOUT_TAKE_IN  the mark is tried once, without taking in
 *                         a halt that shows first, and the lift goes on
 *                         without one (helper-41, 1);
 *   MUTANT_LIFT_UNMARKED  nothing halted at the look (no mark), and the lift
 *                         goes on (helper-41, 2);
 *   MUTANT_CLEAR_OVER_MARK  a request taken in over the mark, the machine
 *                         HALTED already, is cleared with no new word
 *                         (helper-41, 3);
 *   MUTANT_UNMARK_FORGETS  a refused unfreeze whose mark a pull stored over
 *                         takes back its halted word as its last (9d92608:
 *                         the pull's word was then adopted unrecorded);
 *   MUTANT_MARK_ABA       a request over a persistent halt at an epoch an
 *                         unfreeze marked is cleared with no new word
 *                         (9d92608): a halter that read the mark may CAS from
 *                         it once a later unfreeze marks the same epoch (the
 *                         same word), its request gone, and the lift's book
 *                         step lets a raising check through.
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
#ifndef PULLERS
#define PULLERS 0
#endif

#define ACTIVE 0
#define HALTED 1      /* for a persistent reason: only an operator lifts it */
#define REDUCING 2
#define HALTED_T 3    /* for a transient reason: the breaker may lift it */
#define MARK 4        /* HALTED, reason lifting: an unfreeze's mark (transient class) */
#define IS_HALTED(s) ((s) == HALTED || (s) == HALTED_T || (s) == MARK)

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
bit operator_lift = 0;     /* that lift is an operator's unfreeze */
bit outside_shown = 0;     /* an outside halt showed since the last lift */
bit halter_returned = 0;   /* a halter returned, and no operator lifted since */
bit returned_during_lift = 0; /* a halter's CAS landed after a lift's take-in */
byte done = 0;
/* The kill switch's pull count, and the bounded unfreeze's ghosts. */
byte pulls = 0;
byte look = 0;             /* the current bounded unfreeze's look (0: none in progress) */
byte looks = 0;
bit bounded_lift = 0;      /* the lift in progress is a bounded unfreeze's */
bit pull_after_look_returned = 0; /* a pull counted after the look has returned */

/* The book's generation moves, the request bit stays (rl_position_table_advance). */
inline advance(next) {
    atomic { bgen = (bgen + 1) % 16; bstate = next; lifting = (IS_HALTED(pstate) && !IS_HALTED(next)) }
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
            :: (IS_HALTED(pstate) && !IS_HALTED(next)) ->
                outside_shown = 0;
                /* P4: after a halter is done, only an operator lifts */
                assert(operator_lift || !halter_returned);
                if
                :: operator_lift ->
                    assert(!returned_during_lift); /* P5 */
                    assert(!bounded_lift || !pull_after_look_returned); /* P6 */
                    halter_returned = 0
                :: else -> skip
                fi
            :: else -> skip
            fi;
            wstate = next; wepoch = pepoch + 1; ok = 1;
            assert(!outside_shown || IS_HALTED(wstate)) /* P2 */
        :: else ->
            /* P2; over the mark, any halt may land */
            assert(!lifting || ((pstate == HALTED_T || pstate == MARK) && wstate == HALTED));
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
    loops = 0;
    do
    :: loops++;
       assert(loops <= 3); /* take_in ends: a failed show is followed by an adoption */
       atomic { rq = breq; shown = (wstate != pstate || wepoch != pepoch); ws = wstate; we = wepoch }
       if
       :: (!rq && !shown) -> break
       :: (rq || shown) && pstate == MARK && shown ->
           advance(HALTED);         /* a halt stored over the mark: adopt it */
           pstate = ws; pepoch = we; mstate = HALTED;
           atomic { breq = 0 };
           break
       :: (rq || shown) && pstate == MARK && !shown ->
#ifdef MUTANT_CLEAR_OVER_MARK
           if
           :: mstate == HALTED -> atomic { breq = 0 }; break
           :: else -> skip
           fi;
#endif
           show_word(HALTED, ok);   /* its word is yet to land: one over the mark */
           if
           :: ok -> mstate = HALTED; atomic { breq = 0 }; break
           :: else -> skip
           fi
       :: (rq || shown) && pstate != MARK && mstate == HALTED ->
           assert(!shown);          /* an outside halt stores only over a word that is not HALTED */
           if
#ifdef MUTANT_MARK_ABA
           :: atomic { breq = 0 }; break
#else
           :: (mepoch != pepoch + 1) -> atomic { breq = 0 }; break /* not at an epoch an unfreeze marked */
#endif
           :: show_word(HALTED, ok); /* an unrecordable fill's request takes the halt over (a new word) */
              if
              :: ok -> atomic { breq = 0 }; break
              :: else -> skip
              fi
           fi
       :: (rq || shown) && pstate != MARK && mstate == HALTED_T && shown ->
           advance(HALTED);         /* an outside halt made the transient halt persistent: adopt it */
           pstate = ws; pepoch = we; mstate = HALTED;
           atomic { breq = 0 };
           break
       :: (rq || shown) && pstate != MARK && mstate == HALTED_T && !shown ->
           show_word(HALTED, ok);   /* a persistent request over a transient halt: persistent now */
           if
           :: ok -> mstate = HALTED; atomic { breq = 0 }; break
           :: else -> skip          /* its word landed meanwhile: adopt it */
           fi
       :: (rq || shown) && pstate != MARK && !IS_HALTED(mstate) && shown ->
           advance(HALTED);         /* adopt the outside word as it shows */
           pstate = ws; pepoch = we; mstate = HALTED;
           atomic { breq = 0 };     /* clear_halt_request: the state bits hold it now */
           break
       :: (rq || shown) && pstate != MARK && !IS_HALTED(mstate) && !shown ->
           show_word(HALTED, ok);
           if
           :: ok -> mstate = HALTED; atomic { breq = 0 }; break
           :: else -> skip          /* its word landed meanwhile: adopt it */
           fi
       fi
    od
}

/* rl_engine_control: take in first (or not: the C code looks at the book
 * only when the request count or the word moved, and at the count only
 * after a knock, and a request may not have counted yet; before a lift it
 * always looks); publish; on a failed CAS roll back, take in, again. A tick
 * here is free to look or not at any time, so that gating is covered. */
inline control(target, allowed, lift) {
    if
    :: take_in()
    :: !lift -> skip
    fi;
    returned_during_lift = 0;
    do
    :: saved = mstate;
       if
       :: allowed ->
           mstate = target;
           operator_lift = (lift == 2);
           show_word(target, ok);
           operator_lift = 0;
           if
           :: ok -> break
#ifdef MUTANT_RETRY_LIFT
           :: else -> mstate = saved; take_in()
#else
           :: else -> mstate = saved; take_in();
               if :: lift -> break :: else -> skip fi /* a halt that landed during a lift stands */
#endif
           fi
       :: else -> break
       fi
    od
}

/* rl_engine_mark_lifting: the shown HALTED word, renamed by CAS. */
inline mark_lifting() {
    atomic {
        if
        :: (IS_HALTED(pstate) && wstate == pstate && wepoch == pepoch) -> wstate = MARK; mark = 1
        :: else -> mark = 0
        fi
    }
    if
    :: mark -> pstate = MARK; mepoch = pepoch + 1
    :: else -> skip
    fi
}

/* rl_engine_unmark_lifting: the halt shown again, unless one landed on the
 * mark (then the mark stays the last word, and the next take-in publishes
 * over it). */
inline unmark_lifting() {
    if
    :: (mark && pstate == MARK) ->
        atomic {
            if
            :: (wstate == MARK && wepoch == pepoch) -> wstate = hs; ok = 1
            :: else -> ok = 0
            fi
        };
#ifdef MUTANT_UNMARK_FORGETS
        pstate = hs
#else
        if :: ok -> pstate = hs :: else -> skip fi
#endif
    :: else -> skip
    fi
}

/* RL_CONTROL_UNFREEZE with the pulls its requester had seen (the look, at
 * the start: an earlier look only sees fewer, and is refused more). */
inline bounded_unfreeze() {
    atomic { looks++; look = looks; seen = pulls; pull_after_look_returned = 0 };
    mark = 0;
#if defined(MUTANT_NO_MARK)
    skip;
#elif defined(MUTANT_MARK_WITHOUT_TAKE_IN)
    hs = pstate; mark_lifting();
#else
    do
    :: take_in();
       hs = pstate;
       mark_lifting();
       if
       :: (mark || !(IS_HALTED(mstate) && IS_HALTED(pstate))) -> break
       :: else -> skip
       fi
    od;
#endif
    if
    :: pulls > seen -> unmark_lifting()   /* a pull after the look: refused */
    :: else ->
        if
#if defined(MUTANT_NO_MARK) || defined(MUTANT_MARK_WITHOUT_TAKE_IN) || defined(MUTANT_LIFT_UNMARKED)
        :: true ->
#else
        :: mark ->
#endif
            take_in();
            if
#if !defined(MUTANT_NO_MARK) && !defined(MUTANT_MARK_WITHOUT_TAKE_IN)
            :: (mark && pstate != MARK) -> skip  /* a pull over the mark, taken in: it stands */
#endif
            :: else ->
                returned_during_lift = 0;
                if
                :: IS_HALTED(mstate) ->
                    saved = mstate;
                    mstate = ACTIVE;
                    operator_lift = 1; bounded_lift = 1;
                    show_word(ACTIVE, ok);
                    operator_lift = 0; bounded_lift = 0;
                    if
                    :: ok -> skip
                    :: else -> mstate = saved; take_in() /* a halt that landed during the lift stands */
                    fi
                :: else -> skip
                fi
            fi;
            unmark_lifting()
        :: else -> skip                   /* nothing halted at the look */
        fi
    fi;
    look = 0
}

active proctype Controller() {
    byte saved, ws, we, loops, seen, hs, mepoch = 0;
    bit rq, ok, shown, mark;
    byte n = 0;
    do
    :: n < RISK_OPS ->
        n++;
        if
        :: control(REDUCING, mstate == ACTIVE, 0)          /* a limit breach */
        :: control(ACTIVE, mstate == REDUCING, 0)          /* limits cleared */
        :: control(HALTED, !IS_HALTED(mstate), 0)          /* its own persistent halt (a journal failure) */
        :: control(HALTED, IS_HALTED(mstate), 0)           /* a book no longer known, over any halt (unrecordable_fill) */
        :: control(HALTED_T, !IS_HALTED(mstate), 0)        /* its own transient halt (a lost heartbeat) */
#ifdef BOUNDED_UNFREEZE
        :: bounded_unfreeze()                              /* an operator's unfreeze, bounded by the pulls seen (at any state) */
#else
        :: control(ACTIVE, IS_HALTED(mstate), 2)           /* an operator's unfreeze */
#endif
        :: control(ACTIVE, mstate == HALTED_T, 1)          /* the breaker's lift */
        :: take_in()                                       /* a tick */
        fi
    :: n >= RISK_OPS -> break
    od;
    /* The last tick, once every halter is done: P3. */
    (done == HALTERS + CHECKERS);
    take_in();
    assert(breq == 0);
    assert(mstate == pstate && pstate == wstate && pepoch == wepoch && bstate == mstate);
    assert(!outside_shown || IS_HALTED(wstate));
    assert(!halter_returned || wstate == HALTED)  /* P3: a halter's halt, persistent, unless an operator lifted it */
}

/* rl_engine_halt_now. Its ghost `halter_returned` is set at the step that
 * decides it is done (its linearization point): a read of a word HALTED for
 * a persistent reason, or its CAS. */
#ifdef MUTANT_TRANSIENT_SKIP
#define DONE_READING(s) IS_HALTED(s)   /* any HALTED word: nothing to add */
#else
#define DONE_READING(s) ((s) == HALTED)
#endif
/* A halter is done: a pull counted after the current look says so (P6). */
#define RETURNED halter_returned = 1; if :: (after != 0 && after == look) -> pull_after_look_returned = 1 :: else -> skip fi
active [HALTERS] proctype Halter() {
    byte s, e, after = 0;
    bit halted = 0;
    if
    :: _pid <= PULLERS -> atomic { pulls++; after = look } /* the pull's count first (seq_cst), then its halt */
    :: else -> skip
    fi;
    atomic { s = wstate; e = wepoch; if :: DONE_READING(s) -> RETURNED :: else -> skip fi }
    do
    :: DONE_READING(s) || halted -> break
    :: else ->
#ifndef MUTANT_NO_REQUEST
        atomic { breq = 1 };  /* request_halt (no change when set) */
#endif
#ifdef MUTANT_REQUEST_FIRST
        atomic { s = wstate; e = wepoch; if :: DONE_READING(s) -> RETURNED :: else -> skip fi };
        if
        :: DONE_READING(s) -> break
        :: else -> skip
        fi;
#endif
        if
#ifdef MUTANT_TRANSIENT_REQUEST_ONLY
        :: s == HALTED_T ->
            /* the request alone, no word; a lift since the read is shown over */
            atomic {
                if
                :: (wstate == s && wepoch == e) -> halted = 1; RETURNED
                :: else -> s = wstate; e = wepoch; if :: DONE_READING(s) -> RETURNED :: else -> skip fi
                fi
            }
        :: s != HALTED_T ->
#else
        :: true ->
#endif
            atomic {
                if
                :: (wstate == s && wepoch == e) ->
                    wstate = HALTED; wepoch = e + 1; halted = 1; outside_shown = 1; RETURNED;
                    returned_during_lift = 1
                :: else -> s = wstate; e = wepoch; if :: DONE_READING(s) -> RETURNED :: else -> skip fi
                fi
            }
        fi
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
                    assert(!IS_HALTED(wstate) || lifting); /* P1 */
                    assert(!halter_returned || operator_lift); /* P1: none after a halter returned, but an operator's lift */
                    tries++
                :: else -> skip                  /* decide again */
                fi
            }
        fi
    :: tries >= ORDERS -> break
    od;
    done++
}
