//! The real scheduler: a one-node Slurm cluster (Debian's slurm-wlm and munge, installed by
//! scripts/setup) started on loopback by this test, as root, with its state and logs in a temporary
//! folder; the documented sbatch array script (docs/examples/ssfpack-batch.sbatch) packages the
//! generated library with no --shard flag, each task finding its shard in SLURM_ARRAY_TASK_*.
//! Every daemon is stopped by its PID at the end, and every wait is bounded.

mod batch_support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use batch_support::*;

/// The daemons, stopped (SIGTERM, then SIGKILL after 10 s) when dropped.
struct Cluster {
    dir: PathBuf,
    conf: PathBuf,
    daemons: Vec<(&'static str, Child)>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for (_, child) in self.daemons.iter_mut().rev() {
            let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn run(cmd: &mut Command) -> String {
    let o = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        o.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

impl Cluster {
    fn logs(&self) -> String {
        ["slurmctld.log", "slurmd.log", "munged.log"]
            .iter()
            .map(|f| format!("--- {f}\n{}", std::fs::read_to_string(self.dir.join(f)).unwrap_or_default()))
            .collect()
    }

    fn start(dir: &Path) -> Cluster {
        let d = |f: &str| dir.join(f);
        for sub in ["munge", "state", "spool"] {
            std::fs::create_dir_all(d(sub)).unwrap();
        }
        set_mode(&d("munge"), 0o711);
        set_mode(dir, 0o755);
        run(Command::new("mungekey").arg("--create").arg(format!("--keyfile={}", d("munge.key").display())));
        set_mode(&d("munge.key"), 0o600);
        let socket = d("munge/munge.socket.2");
        let mut cluster = Cluster { dir: dir.to_path_buf(), conf: d("slurm.conf"), daemons: Vec::new() };
        let munged = Command::new("munged")
            .arg("--foreground")
            .arg(format!("--key-file={}", d("munge.key").display()))
            .arg(format!("--socket={}", socket.display()))
            .arg(format!("--pid-file={}", d("munged.pid").display()))
            .arg(format!("--log-file={}", d("munged.log").display()))
            .arg(format!("--seed-file={}", d("munge.seed").display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("munged (scripts/setup installs munge)");
        cluster.daemons.push(("munged", munged));
        wait_for(Duration::from_secs(10), "the munge socket", || socket.exists(), &cluster);
        let (ctld_port, d_port) = (free_port(), free_port());
        let conf = format!(
            "ClusterName=ssfpacktest\nSlurmctldHost=localhost(127.0.0.1)\nSlurmctldPort={ctld_port}\n\
             SlurmdPort={d_port}\nAuthType=auth/munge\nCredType=cred/munge\nAuthInfo=socket={socket}\n\
             SlurmUser=root\nSlurmdUser=root\nProctrackType=proctrack/linuxproc\nTaskPlugin=task/none\n\
             MpiDefault=none\nReturnToService=2\nSchedulerType=sched/builtin\nSelectType=select/cons_tres\n\
             SelectTypeParameters=CR_CPU\nAccountingStorageType=accounting_storage/none\n\
             JobAcctGatherType=jobacct_gather/none\nJobCompType=jobcomp/none\n\
             SlurmctldPidFile={dir}/slurmctld.pid\nSlurmdPidFile={dir}/slurmd.pid\nSlurmdSpoolDir={dir}/spool\n\
             StateSaveLocation={dir}/state\nSlurmctldLogFile={dir}/slurmctld.log\nSlurmdLogFile={dir}/slurmd.log\n\
             KillWait=5\nNodeName=ssfnode NodeAddr=127.0.0.1 CPUs=2 RealMemory=2000 State=UNKNOWN\n\
             PartitionName=test Nodes=ssfnode Default=YES MaxTime=INFINITE State=UP\n",
            socket = socket.display(),
            dir = dir.display()
        );
        std::fs::write(&cluster.conf, conf).unwrap();
        let daemon = |cmd: &mut Command| {
            cmd.env("SLURM_CONF", d("slurm.conf")).stdout(Stdio::null()).stderr(Stdio::null()).spawn()
        };
        let ctld = daemon(Command::new("slurmctld").args(["-D", "-i", "-f"]).arg(d("slurm.conf"))).expect("slurmctld");
        cluster.daemons.push(("slurmctld", ctld));
        let slurmd =
            daemon(Command::new("slurmd").args(["-D", "-N", "ssfnode", "-f"]).arg(d("slurm.conf"))).expect("slurmd");
        cluster.daemons.push(("slurmd", slurmd));
        wait_for(Duration::from_secs(30), "the node to be idle", || cluster.node_idle(), &cluster);
        cluster
    }

    fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env("SLURM_CONF", &self.conf);
        c
    }

    fn node_idle(&self) -> bool {
        self.command("sinfo")
            .args(["-h", "-o", "%t"])
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "idle")
    }
}

fn wait_for(limit: Duration, what: &str, mut ready: impl FnMut() -> bool, cluster: &Cluster) {
    let deadline = Instant::now() + limit;
    while !ready() {
        assert!(Instant::now() < deadline, "no {what} after {limit:?}\n{}", cluster.logs());
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/examples/ssfpack-batch.sbatch")
}

#[test]
fn docs_show_the_scripts_that_are_tested() {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/batch.md")).unwrap();
    for f in ["ssfpack-batch.sbatch", "ssfpack-batch-job.yaml"] {
        let text =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/examples").join(f)).unwrap();
        assert!(doc.contains(text.trim_end()), "docs/batch.md must show docs/examples/{f} verbatim");
    }
}

#[test]
fn a_slurm_array_packages_the_library_with_no_shard_flag() {
    if !rustix_is_root() {
        assert!(std::env::var_os("CI").is_none(), "the Slurm test needs root (CI runs as root)");
        eprintln!("SKIP: not root; the one-node Slurm cluster needs root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("library");
    let out = dir.path().join("out");
    library(&lib);
    let cluster = Cluster::start(&dir.path().join("slurm"));
    // Three tasks, ids 1..3 (MIN 1), so the index really is (ID - MIN) / STEP.
    let job = run(cluster
        .command("sbatch")
        .args(["--parsable", "--array=1-3", "--cpus-per-task=1", "--mem=300M", "--time=5"])
        .arg(format!("--output={}/task-%A_%a.log", dir.path().display()))
        .arg(format!("--chdir={}", dir.path().display()))
        .arg(script())
        .env("LIBRARY", &lib)
        .env("OUT_ROOT", &out)
        .env("SSFPACK", bin())
        .env("SSFPACK_BATCH_OPTS", TINY.join(" ")));
    let job = job.trim().split(';').next().unwrap().to_string();
    wait_for(
        Duration::from_secs(120),
        "end of the array job",
        || {
            let o = cluster.command("squeue").args(["-h", "-j", &job]).output().unwrap();
            o.status.success() && String::from_utf8_lossy(&o.stdout).trim().is_empty()
        },
        &cluster,
    );
    let mut packaged = Vec::new();
    let mut failed = Vec::new();
    for task in 1..=3 {
        let path = out.join(format!(".ssfpack-batch/reports/{job}_{task}.json"));
        let log = std::fs::read_to_string(dir.path().join(format!("task-{job}_{task}.log"))).unwrap_or_default();
        let text = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("{}: {e}\ntask log:\n{log}\n{}", path.display(), cluster.logs()));
        let r: serde_json::Value = serde_json::from_slice(&text).unwrap_or_else(|e| panic!("task {task}: {e}\n{log}"));
        assert_eq!(r["shard"]["from"], format!("SLURM_ARRAY_TASK_ID={task}"));
        assert_eq!(r["shard"]["index"], task - 1);
        assert_eq!(r["shard"]["count"], 3);
        packaged.extend(with_status(&r, "packaged"));
        failed.extend(with_status(&r, "failed"));
    }
    packaged.sort();
    let mut media: Vec<String> = MEDIA.iter().map(|s| s.to_string()).collect();
    media.sort();
    assert_eq!(packaged, media, "the array covered the library exactly once");
    assert_eq!(failed, [CORRUPT]);
    for p in presentations(&out) {
        check(&out.join(p));
    }
    assert_eq!(presentations(&out).len(), MEDIA.len());
    drop(cluster);
}

fn rustix_is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}
