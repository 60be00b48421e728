//! The example end to end against the stack (`make up`), for both saga styles: the demo's checks
//! on a small load, and the same checks after SIGKILLing roles at random moments during the
//! load (10 kills, every role at least once, each restarted). Each run uses its own namespace
//! (databases, topics, indices, keys).

#![cfg(feature = "integration")]

use std::process::Command;
use std::sync::Mutex;

use keel::testing::stack;
use serde_json::Value;

/// Runs are heavy (seven processes each): one at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn require_stack() {
    for service in [
        stack::mariadb(),
        stack::postgres(),
        stack::kafka(),
        stack::redis(),
        stack::elasticsearch(),
        stack::jaeger_query(),
    ] {
        service.require();
    }
}

/// Runs the example's binary with `args` in `namespace`, its state under the test target dir.
fn ecommerce(namespace: &str, args: &[&str]) -> std::process::Output {
    let state_dir = concat!(env!("CARGO_TARGET_TMPDIR"), "/ecommerce");
    Command::new(env!("CARGO_BIN_EXE_ecommerce"))
        .args(["--namespace", namespace, "--state-dir", state_dir])
        .args(args)
        .output()
        .expect("the ecommerce binary runs")
}

/// Runs `ecommerce --saga <saga> demo <args>` in a fresh namespace; returns its JSON report
/// after checking that every check passed and the exit status says so.
fn demo(name: &str, saga: &str, args: &[&str]) -> Value {
    let _guard = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    require_stack();
    let namespace = format!("{name}{}", std::process::id());
    let output = ecommerce(&namespace, &[&["--saga", saga, "demo"], args].concat());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report: Value = stdout
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| {
            panic!(
                "no JSON report; exit {:?}\nstderr:\n{stderr}",
                output.status
            )
        });
    for check in report["checks"].as_array().expect("checks") {
        assert_eq!(
            check["passed"], true,
            "check failed: {check}\nstderr:\n{stderr}"
        );
    }
    assert!(
        output.status.success(),
        "exit {:?}\nstderr:\n{stderr}",
        output.status
    );
    assert_eq!(report["saga"], saga, "{report}");
    // Passed: its databases, topics, indices and keys go (a failed run keeps them to look at).
    let teardown = ecommerce(&namespace, &["teardown"]);
    assert!(
        teardown.status.success(),
        "teardown: {}",
        String::from_utf8_lossy(&teardown.stderr)
    );
    report
}

fn assert_complete(report: &Value, orders: u64) {
    let f = &report["figures"];
    assert_eq!(f["mariadb_orders"], orders, "{report}");
    assert_eq!(f["es_documents"], orders, "{report}");
    assert_eq!(f["redis_keys"], orders, "{report}");
    assert_eq!(f["lost"], 0, "{report}");
    assert_eq!(f["duplicated"], 0, "{report}");
    let confirmed = f["confirmed"].as_u64().expect("confirmed");
    let cancelled = f["cancelled"].as_u64().expect("cancelled");
    assert_eq!(confirmed + cancelled, orders, "{report}");
    assert!(
        confirmed > 0 && cancelled > 0,
        "both outcomes occur with seed 42: {report}"
    );
    assert_eq!(
        report["checks"].as_array().map(Vec::len),
        Some(6),
        "{report}"
    );
    assert!(
        report["compensated_trace"]["url"]
            .as_str()
            .is_some_and(|u| u.contains("/trace/")),
        "{report}"
    );
}

/// The saga view agrees with the orders: one fulfilment saga per submitted order, completed for
/// each confirmed order, compensated for each cancelled one, none unfinished. Two kinds of
/// cancelled order are told apart by the report: one the customer cancelled before it was
/// submitted (its row's change translated before its last item's) has no fulfilment saga; one
/// the customer cancelled after it was confirmed has a completed orchestrated saga (the
/// cancellation saga undoes it) or a compensated choreographed instance (the cancellation is a
/// compensation's trigger there).
fn assert_view_matches_orders(report: &Value) {
    let f = &report["figures"];
    let n = |key: &str| f[key].as_u64().unwrap_or_else(|| panic!("{key}: {report}"));
    let completed_then_cancelled = match report["saga"].as_str() {
        Some("orchestration") => n("cancelled_after_confirmation"),
        Some("choreography") => 0,
        other => panic!("saga style {other:?}: {report}"),
    };
    assert_eq!(
        n("sagas_confirmed"),
        n("confirmed") + completed_then_cancelled,
        "{report}"
    );
    assert_eq!(
        n("sagas_compensated") + n("cancelled_unsubmitted") + completed_then_cancelled,
        n("cancelled"),
        "{report}"
    );
    assert_eq!(f["sagas_unfinished"], 0, "{report}");
}

fn assert_killed_every_role(report: &Value, kills: u64) {
    let killed = report["kills"].as_object().expect("kills");
    assert_eq!(
        killed.values().filter_map(Value::as_u64).sum::<u64>(),
        kills,
        "{report}"
    );
    for role in [
        "capture",
        "translate",
        "project",
        "saga",
        "inventory",
        "payment",
    ] {
        let n = killed.get(role).and_then(Value::as_u64).unwrap_or(0);
        assert!(n >= 1, "{role} was never killed: {report}");
    }
}

#[test]
fn orchestrated_orders_pass_every_check() {
    let report = demo(
        "e2eorch",
        "orchestration",
        &["--orders", "150", "--rate", "30"],
    );
    assert_complete(&report, 150);
    assert_view_matches_orders(&report);
}

#[test]
fn orchestrated_orders_pass_every_check_after_ten_sigkills() {
    let args = ["--orders", "200", "--rate", "15", "--kills", "10"];
    let report = demo("e2eorchkill", "orchestration", &args);
    assert_complete(&report, 200);
    assert_killed_every_role(&report, 10);
}

#[test]
fn choreographed_orders_pass_every_check() {
    let report = demo(
        "e2echor",
        "choreography",
        &["--orders", "150", "--rate", "30"],
    );
    assert_complete(&report, 150);
    assert_view_matches_orders(&report);
}

#[test]
fn choreographed_orders_pass_every_check_after_ten_sigkills() {
    let args = ["--orders", "200", "--rate", "15", "--kills", "10"];
    let report = demo("e2echorkill", "choreography", &args);
    assert_complete(&report, 200);
    assert_view_matches_orders(&report);
    assert_killed_every_role(&report, 10);
}
