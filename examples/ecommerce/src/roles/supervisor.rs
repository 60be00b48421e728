//! Runs the roles as child processes of this binary (as they would run in production), with
//! their output in `<state dir>/logs/<role>.log`; kills and restarts them on request.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;

use tokio::process::{Child, Command};

use crate::settings::Settings;

/// Every role, in start order.
pub const ROLES: [&str; 6] = [
    "capture",
    "translate",
    "project",
    "saga",
    "inventory",
    "payment",
];

/// The running roles.
pub struct Supervisor {
    exe: PathBuf,
    settings: Settings,
    children: BTreeMap<&'static str, Child>,
    /// How many times each role was killed.
    pub kills: BTreeMap<&'static str, u32>,
}

impl Supervisor {
    /// A supervisor of this executable's roles.
    pub fn new(settings: &Settings) -> crate::Result<Self> {
        std::fs::create_dir_all(settings.dir().join("logs"))?;
        Ok(Self {
            exe: std::env::current_exe()?,
            settings: settings.clone(),
            children: BTreeMap::new(),
            kills: BTreeMap::new(),
        })
    }

    /// Starts every role.
    pub fn start_all(&mut self) -> crate::Result<()> {
        for role in ROLES {
            self.start(role)?;
        }
        Ok(())
    }

    /// The log file of `role`.
    pub fn log(&self, role: &str) -> PathBuf {
        self.settings.dir().join("logs").join(format!("{role}.log"))
    }

    /// Starts `role`.
    pub fn start(&mut self, role: &'static str) -> crate::Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log(role))?;
        let mut command = Command::new(&self.exe);
        command.arg(role);
        let child = command
            .envs(self.settings.env())
            .env("NO_COLOR", "1")
            // Export spans every 500 ms (the SDK's default is 5 s): a role killed with SIGKILL
            // loses only what it had not exported yet.
            .env("OTEL_BSP_SCHEDULE_DELAY", "500")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()?;
        self.children.insert(role, child);
        Ok(())
    }

    /// Kills `role` with SIGKILL and waits for it to be gone.
    pub async fn kill(&mut self, role: &'static str) -> crate::Result<()> {
        if let Some(mut child) = self.children.remove(role) {
            child.kill().await?;
            *self.kills.entry(role).or_default() += 1;
        }
        Ok(())
    }

    /// Roles that exited by themselves, with their exit status.
    pub fn exited(&mut self) -> Vec<(&'static str, String)> {
        let mut gone = Vec::new();
        for (role, child) in &mut self.children {
            if let Ok(Some(status)) = child.try_wait() {
                gone.push((*role, status.to_string()));
            }
        }
        for (role, _) in &gone {
            self.children.remove(role);
        }
        gone
    }

    /// Stops every role: SIGTERM (they flush their traces), then SIGKILL after 5 s.
    pub async fn stop_all(&mut self) {
        for child in self.children.values() {
            if let Some(pid) = child.id() {
                let _ = std::process::Command::new("kill")
                    .args(["-TERM", &pid.to_string()])
                    .status();
            }
        }
        for (_, mut child) in std::mem::take(&mut self.children) {
            if tokio::time::timeout(std::time::Duration::from_secs(5), child.wait())
                .await
                .is_err()
            {
                let _ = child.kill().await;
            }
        }
    }
}

/// `ecommerce all`: every role until ctrl-c; a role that exits is restarted after a second.
pub async fn run_all(settings: &Settings) -> crate::Result<()> {
    let mut supervisor = Supervisor::new(settings)?;
    supervisor.start_all()?;
    eprintln!(
        "running {} (logs in {}); ctrl-c stops",
        ROLES.join(", "),
        settings.dir().join("logs").display()
    );
    let shutdown = super::shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            () = tokio::time::sleep(std::time::Duration::from_secs(1)) => {
                for (role, status) in supervisor.exited() {
                    eprintln!("{role} exited ({status}); restarting (see {})", supervisor.log(role).display());
                    supervisor.start(role)?;
                }
            }
        }
    }
    supervisor.stop_all().await;
    Ok(())
}
