//! What machine and when: the CPU as /proc/cpuinfo names it, and today's date.

use std::time::{SystemTime, UNIX_EPOCH};

/// The CPU: model name, family/model/stepping, logical CPUs and cores, AVX-512 or not.
pub fn cpu() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    describe(&info)
}

fn describe(info: &str) -> String {
    let field = |name: &str| {
        info.lines()
            .filter_map(|line| line.split_once(':'))
            .find(|(key, _)| key.trim() == name)
            .map(|(_, value)| value.trim().to_string())
    };
    let logical = info
        .lines()
        .filter(|line| line.starts_with("processor"))
        .count();
    let flags = field("flags").unwrap_or_default();
    let has = |flag: &str| flags.split_whitespace().any(|f| f == flag);
    let mut text = format!(
        "{} (family {}, model {}, stepping {}); {logical} logical CPUs, {} cores per socket",
        field("model name").unwrap_or_else(|| "unknown CPU".into()),
        field("cpu family").unwrap_or_default(),
        field("model").unwrap_or_default(),
        field("stepping").unwrap_or_default(),
        field("cpu cores").unwrap_or_else(|| "?".into()),
    );
    text += if has("avx512f") {
        ", AVX-512F"
    } else {
        ", no AVX-512F"
    };
    if has("hypervisor") {
        text += ", virtual machine (the host may place both CPUs on one physical core)";
    }
    text
}

/// The 1-minute load average.
pub fn load_average() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

/// The load averages at the start and end of a run, as a sentence that says whether
/// other processes were busy when the run began (the run's own threads count later).
pub fn load_line(start: Option<f64>, end: Option<f64>) -> String {
    let show = |v: Option<f64>| v.map_or("?".to_string(), |v| format!("{v:.2}"));
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let verdict = match start {
        Some(load) if load >= cpus - 0.5 => {
            "other processes were busy when the run began; figures are less reliable"
        }
        Some(_) => "the machine was quiet when the run began; the run's own threads load it later",
        None => "unknown",
    };
    format!(
        "Load average (1 min, /proc/loadavg) at the start and the end of the run: {} and {} \
         ({verdict}).",
        show(start),
        show(end)
    )
}

/// Today's date, UTC, as YYYY-MM-DD.
pub fn today() -> String {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    date(seconds / 86_400)
}

/// The civil date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn date(days: u64) -> String {
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(11_016), "2000-02-29");
        assert_eq!(date(20_000), "2024-10-04");
    }

    #[test]
    fn cpuinfo() {
        let info = "processor\t: 0\nmodel name\t: Xeon\ncpu family\t: 6\nmodel\t\t: 143\n\
                    stepping\t: 8\ncpu cores\t: 2\nflags\t\t: fpu avx512f hypervisor\n\n\
                    processor\t: 1\nmodel name\t: Xeon\n";
        let text = describe(info);
        assert!(text.starts_with("Xeon (family 6, model 143, stepping 8); 2 logical CPUs, 2 cores per socket, AVX-512F, virtual machine"), "{text}");
    }
}
