//! A private nginx on 127.0.0.1 for the web tests (started and stopped with tests/web/nginx.sh,
//! which also makes it stop by itself after a time limit).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn script() -> PathBuf {
    crate::repo_root().join("tests/web/nginx.sh")
}

/// A running nginx serving one directory; stopped on drop.
pub struct Nginx {
    /// What nginx.sh printed: URL, PORT, PREFIX, PID, ACCESS_LOG, CERT.
    pub vars: HashMap<String, String>,
}

impl Nginx {
    /// Serves `dir` (HTTPS with a self-signed certificate when `tls`) for at most `ttl_s` seconds.
    pub fn start(dir: &Path, tls: bool, ttl_s: u32) -> Nginx {
        let mut c = Command::new("bash");
        c.arg(script())
            .arg("start")
            .arg(dir)
            .args(["--ttl", &ttl_s.to_string()]);
        if tls {
            c.arg("--tls");
        }
        let out = c.output().expect("run tests/web/nginx.sh");
        assert!(
            out.status.success(),
            "tests/web/nginx.sh start failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let vars = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| {
                l.split_once('=')
                    .map(|(k, v)| (k.to_string(), v.to_string()))
            })
            .collect();
        Nginx { vars }
    }

    pub fn url(&self, name: &str) -> String {
        format!("{}/{name}", self.vars["URL"])
    }

    /// The access log so far, a line per finished request:
    /// `<status> <body bytes> <connection> <protocol> "<request>" "<Range>" <ms>`.
    pub fn log_lines(&self) -> Vec<String> {
        std::fs::read_to_string(&self.vars["ACCESS_LOG"])
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        if let Some(prefix) = self.vars.get("PREFIX") {
            let _ = Command::new("bash")
                .arg(script())
                .arg("stop")
                .arg(prefix)
                .output();
        }
    }
}
