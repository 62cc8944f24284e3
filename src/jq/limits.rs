//! Budgets that keep any jq program from crashing or hanging flowrun: a time limit
//! (the run's deadline when it is sooner), a stack budget against runaway recursion,
//! and size budgets on the strings, arrays and outputs a filter builds.
//!
//! The interpreter cannot be interrupted from outside, so the checks run inside it:
//! [`tick`] is called every time jaq copies a value (which it does for every
//! sub-filter it evaluates), and the value type checks sizes as it builds. A budget
//! that runs out unwinds the evaluation with a panic marked [`MARK`], which
//! [`super::interp::Program::run`] turns into the step's error.

use std::cell::Cell;
use std::time::{Duration, Instant};

/// Longest a single run of a filter on one payload may take, when the run has no
/// sooner deadline.
pub(crate) const TIME_LIMIT: Duration = Duration::from_secs(60);
/// Most bytes of stack a filter may use (steps run on threads with
/// [`crate::cores::STEP_STACK`] bytes of stack).
pub(crate) const STACK_LIMIT: usize = crate::cores::STEP_STACK / 2;
/// Longest string a filter may build, in bytes.
pub(crate) const MAX_STRING_BYTES: usize = 256 << 20;
/// Most elements an array built by a filter may have.
pub(crate) const MAX_ARRAY_LEN: usize = 16 << 20;
/// Most outputs one run of a filter may yield.
pub(crate) const MAX_OUTPUTS: usize = 1 << 22;

/// How often (in copies) the clock and the stack are looked at.
const CHECK_EVERY: u32 = 1024;

/// How the panic message of a budget that ran out begins.
pub(crate) const MARK: &str = "jq budget: ";

#[derive(Clone, Copy)]
struct Budget {
    deadline: Instant,
    stack_base: usize,
    run_timeout: bool,
}

thread_local! {
    static BUDGET: Cell<Option<Budget>> = const { Cell::new(None) };
    static TICKS: Cell<u32> = const { Cell::new(0) };
    static RUN_DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Sets the deadline of the run this thread works for (`None`: no run timeout). Filters
/// run on this thread stop at this deadline when it comes before [`TIME_LIMIT`].
pub(crate) fn set_run_deadline(deadline: Option<Instant>) {
    RUN_DEADLINE.with(|d| d.set(deadline));
}

/// The run deadline this thread works under.
#[must_use]
pub(crate) fn run_deadline() -> Option<Instant> {
    RUN_DEADLINE.with(Cell::get)
}

/// Sets this thread's run deadline until dropped (then the previous one is back).
pub(crate) struct RunDeadline(Option<Instant>);

impl RunDeadline {
    /// Filters run on this thread stop at `deadline` while the value lives.
    #[must_use]
    pub(crate) fn set(deadline: Option<Instant>) -> RunDeadline {
        RunDeadline(RUN_DEADLINE.with(|d| d.replace(deadline)))
    }
}

impl Drop for RunDeadline {
    fn drop(&mut self) {
        RUN_DEADLINE.with(|d| d.set(self.0));
    }
}

/// The address of a local variable: how deep the stack is right now.
#[inline(never)]
fn stack_position() -> usize {
    let marker = 0u8;
    std::ptr::addr_of!(marker) as usize
}

/// Runs `f` under a fresh budget (nested runs keep the outer one).
pub(crate) fn with_budget<T>(f: impl FnOnce() -> T) -> T {
    let outer = BUDGET.with(Cell::get);
    if outer.is_none() {
        let limit = Instant::now() + TIME_LIMIT;
        let run = RUN_DEADLINE.with(Cell::get).filter(|d| *d < limit);
        BUDGET.with(|b| {
            b.set(Some(Budget {
                deadline: run.unwrap_or(limit),
                stack_base: stack_position(),
                run_timeout: run.is_some(),
            }));
        });
    }
    let out = f();
    if outer.is_none() {
        BUDGET.with(|b| b.set(None));
    }
    out
}

/// Forgets the budget after a run that unwound.
pub(crate) fn reset() {
    BUDGET.with(|b| b.set(None));
}

#[allow(clippy::needless_pass_by_value, reason = "callers build the message")]
fn exceeded(msg: String) -> ! {
    std::panic::panic_any(format!("{MARK}{msg}"))
}

/// Checks the clock and the stack now and then.
#[inline]
pub(crate) fn tick() {
    let n = TICKS.with(|t| {
        let n = t.get().wrapping_add(1);
        t.set(n);
        n
    });
    if n.is_multiple_of(CHECK_EVERY) {
        check_now();
    }
}

#[cold]
fn check_now() {
    let Some(b) = BUDGET.with(Cell::get) else {
        return;
    };
    if b.stack_base.abs_diff(stack_position()) > STACK_LIMIT {
        exceeded(format!(
            "the filter recursed too deeply (more than {} MiB of stack)",
            STACK_LIMIT >> 20
        ));
    }
    if Instant::now() >= b.deadline {
        exceeded(if b.run_timeout {
            "the run's timeout was reached while the filter ran".to_owned()
        } else {
            format!(
                "the filter ran longer than {} s on one payload",
                TIME_LIMIT.as_secs()
            )
        });
    }
}

/// Refuses arrays longer than [`MAX_ARRAY_LEN`].
#[inline]
pub(crate) fn check_len(len: usize) {
    if len > MAX_ARRAY_LEN {
        exceeded(format!(
            "the filter built an array of more than {MAX_ARRAY_LEN} elements"
        ));
    }
    if len % 4096 == 4095 {
        check_now();
    }
}

/// Refuses strings longer than [`MAX_STRING_BYTES`].
#[inline]
pub(crate) fn check_bytes(len: usize) {
    if len > MAX_STRING_BYTES {
        exceeded(format!(
            "the filter built a string of more than {} MiB",
            MAX_STRING_BYTES >> 20
        ));
    }
}

/// Refuses more than [`MAX_OUTPUTS`] outputs.
pub(crate) fn check_outputs(n: usize) {
    if n > MAX_OUTPUTS {
        exceeded(format!(
            "the filter yielded more than {MAX_OUTPUTS} outputs"
        ));
    }
    if n % 1024 == 1023 {
        check_now();
    }
}
