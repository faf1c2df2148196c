//! A short load run (the driver of `examples/load`) against the REST API served in this
//! process over real HTTP, on the embedded network with two demo tokens: 20 clients for
//! about 5 s of GETs, PUTs and DELETEs, then the consistency checks. It asserts
//! correctness only (no error, no violation), never timings.

#[path = "../examples/load/driver.rs"]
mod driver;

use std::time::Duration;

use tokennet::embedded::{self, EmbeddedConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_clients_on_two_tokens_break_nothing() {
    let network = embedded::start(&EmbeddedConfig {
        tokens: 2,
        peers: 6,
        block_time: Duration::from_millis(100),
        settle_timeout: Duration::from_secs(1),
        ..EmbeddedConfig::default()
    })
    .await
    .expect("the embedded network starts");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binding a local port");
    let address = listener.local_addr().expect("the bound address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(tokennet::api::serve(
        network.node.clone(),
        listener,
        async move {
            let _ = stopped.await;
        },
    ));

    let config = driver::LoadConfig {
        clients: 20,
        duration: Duration::from_secs(5),
        seed: 7,
        // Writes often enough that every token sees joins and leaves in 5 s.
        write_chance: 0.05,
        write_timeout: Duration::from_secs(60),
        ..driver::LoadConfig::new(format!("http://{address}"))
    };
    let outcome = driver::run_load(&config).await.expect("the load runs");
    let report = driver::check(&config, &outcome)
        .await
        .expect("the checks run");
    println!("{}", driver::table(&outcome));
    for line in report.lines.iter().chain(&report.violations) {
        println!("{line}");
    }
    assert!(
        outcome.errors.is_empty(),
        "errors during the load: {:#?}",
        outcome.errors
    );
    assert!(
        report.violations.is_empty(),
        "violations: {:#?}",
        report.violations
    );
    let writes = [driver::Endpoint::Join, driver::Endpoint::Leave]
        .iter()
        .map(|e| outcome.stats.get(e).map_or(0, |s| s.count()))
        .sum::<u64>();
    assert!(writes > 0, "the run made no PUT or DELETE");
    driver::verdict(&outcome, &report).expect("no error, no violation");

    let _ = stop.send(());
    let _ = server.await;
}
