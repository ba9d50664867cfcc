//! The lab's store keeps every write it acknowledged: the lab is killed with SIGKILL in the middle
//! of a stream of writes, restarted on the same data dir, and every acknowledged write is there.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use mwi_proto::proto::GetLocksRequest;
use mwi_proto::types::LockV2;
use mwi_testkit::fixtures;

use crate::harness::Lab;

fn lock(name: String) -> LockV2 {
    fixtures::lock(&name, fixtures::user("bot-durable"), "durability")
}

#[test]
fn every_acknowledged_write_survives_sigkill() {
    let dir = tempfile::tempdir().expect("temp dir");
    let lab_dir = dir.path().join("lab");
    let lab = Lab::start_on(&lab_dir);
    let acked = Mutex::new(Vec::<String>::new());

    std::thread::scope(|scope| {
        scope.spawn(|| {
            lab.admin(async |client| {
                let writer = |w: usize| {
                    let mut client = client.clone();
                    let acked = &acked;
                    async move {
                        for i in 0.. {
                            let name = format!("w{w}-{i}");
                            // Stop at the first failure: the lab has been killed.
                            if client.upsert_lock(lock(name.clone())).await.is_err() {
                                break;
                            }
                            acked.lock().expect("acked").push(name);
                        }
                    }
                };
                tokio::join!(writer(0), writer(1), writer(2), writer(3));
            });
        });
        // Kill once writes are streaming, while several are in flight.
        let deadline = Instant::now() + Duration::from_secs(30);
        while acked.lock().expect("acked").len() < 200 {
            assert!(Instant::now() < deadline, "writes did not start");
            std::thread::sleep(Duration::from_millis(5));
        }
        let pid = i32::try_from(lab.pid()).expect("pid");
        // SAFETY: kill(2) on our own, not yet reaped child.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
    });
    drop(lab);

    let acked: BTreeSet<String> = acked.into_inner().expect("acked").into_iter().collect();
    let restarted = Lab::start_on(&lab_dir);
    let stored: BTreeSet<String> = restarted.admin(async |mut client| {
        client
            .get_locks(GetLocksRequest::default())
            .await
            .expect("get locks after restart")
            .into_inner()
            .locks
            .into_iter()
            .filter_map(|l| l.metadata.map(|m| m.name))
            .collect()
    });
    eprintln!(
        "acknowledged before SIGKILL: {}, stored after restart: {}",
        acked.len(),
        stored.len()
    );
    let lost: Vec<_> = acked.difference(&stored).collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged writes lost after SIGKILL, e.g. {:?}",
        lost.len(),
        acked.len(),
        &lost[..lost.len().min(5)]
    );
    assert!(acked.len() >= 200);
}
