//! The process's own figures for the metrics: resident memory and open files
//! (from Linux's `/proc/self`), start time and uptime, and the space left on
//! the file system of `data_dir` (where SQLite and the spool write).

use std::path::Path;
use std::sync::LazyLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// When the process started, as near as the daemon knows: the first time
/// anything asked (`server::start` asks at once).
static STARTED: LazyLock<(Instant, f64)> = LazyLock::new(|| {
    let wall = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    (Instant::now(), wall)
});

/// Notes the start time (call once, early).
pub fn mark_start() {
    LazyLock::force(&STARTED);
}

/// What [`read`] found; `None` where the system does not tell.
#[derive(Debug, Clone, Default)]
pub struct Figures {
    pub resident_bytes: Option<i64>,
    pub open_fds: Option<i64>,
    pub start_time_secs: f64,
    pub uptime_secs: f64,
    /// Bytes available to the daemon and the size of the file system.
    pub disk: Option<(i64, i64)>,
}

pub fn read(data_dir: &Path) -> Figures {
    let (started, wall) = *STARTED;
    Figures {
        resident_bytes: resident_bytes(),
        open_fds: std::fs::read_dir("/proc/self/fd")
            .ok()
            .map(|d| d.count() as i64),
        start_time_secs: wall,
        uptime_secs: started.elapsed().as_secs_f64(),
        disk: disk_space(data_dir),
    }
}

/// `VmRSS` of `/proc/self/status`, in bytes.
fn resident_bytes() -> Option<i64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: i64 = line
        .trim_start_matches("VmRSS:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

/// Free (for an unprivileged process) and total bytes of the file system
/// holding `dir`.
#[cfg(unix)]
fn disk_space(dir: &Path) -> Option<(i64, i64)> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `path` is a NUL-terminated string that outlives the call, and
    // `st` points to writable memory of the right size; statvfs fills it
    // when it returns 0, and only then is it read.
    let st = unsafe {
        if libc::statvfs(path.as_ptr(), st.as_mut_ptr()) != 0 {
            return None;
        }
        st.assume_init()
    };
    let unit = st.f_frsize as i64;
    Some((
        (st.f_bavail as i64).saturating_mul(unit),
        (st.f_blocks as i64).saturating_mul(unit),
    ))
}

#[cfg(not(unix))]
fn disk_space(_: &Path) -> Option<(i64, i64)> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_process_reads_its_own_figures() {
        mark_start();
        let f = read(&std::env::temp_dir());
        assert!(f.resident_bytes.is_some_and(|b| b > 1024 * 1024), "{f:?}");
        assert!(f.open_fds.is_some_and(|n| n >= 3), "{f:?}");
        let (free, size) = f.disk.expect("statvfs on the temp dir");
        assert!(size > 0 && free >= 0 && free <= size, "{f:?}");
        assert!(f.start_time_secs > 1.7e9, "{f:?}");
    }
}
