//! This process's own CPU time and memory, from `/proc/self` (Linux), for the benches that stage
//! in a child of their own and measure it from inside (`benches/stage.rs`, `benches/spill.rs`).
//! A child measured from outside is [`super::process`]'s.
//!
//! Fields as in proc(5): <https://man7.org/linux/man-pages/man5/proc_pid_stat.5.html> and
//! <https://man7.org/linux/man-pages/man5/proc_pid_status.5.html>.

/// User + system CPU seconds of this process (all threads): `utime` and `stime`, fields 14 and
/// 15 of `/proc/self/stat`. NaN when it cannot be read.
pub fn cpu_seconds() -> f64 {
    stat_seconds(14) + stat_seconds(15)
}

/// CPU seconds of this process's waited-for children: `cutime` and `cstime`, fields 16 and 17.
pub fn children_cpu_seconds() -> f64 {
    stat_seconds(16) + stat_seconds(17)
}

/// Field `field` (1-based, as proc(5) numbers them) of `/proc/self/stat` in seconds: clock
/// ticks of 1/100 s (Linux's USER_HZ).
fn stat_seconds(field: usize) -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return f64::NAN;
    };
    // The command name (field 2) is in parentheses and may hold spaces: count from after it.
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let ticks = after_name.split_whitespace().nth(field - 3).and_then(|f| f.parse::<f64>().ok());
    ticks.map_or(f64::NAN, |t| t / 100.0)
}

/// A `/proc/self/status` memory line in KiB: `VmRSS:` (resident now), `VmHWM:` (peak).
pub fn memory_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
