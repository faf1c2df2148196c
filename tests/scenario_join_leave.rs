//! The scenario suite on the simulated chain (virtual time). `anvil_scenarios.rs` runs
//! the same functions on our contracts on anvil.

mod common;

use common::scenarios;
use common::SimScenario;

#[tokio::test(start_paused = true)]
async fn raiden_golden_join_and_leave() {
    scenarios::golden_join_and_leave(&mut SimScenario::new()).await;
}

#[tokio::test(start_paused = true)]
async fn reads_and_other_tokens_do_not_wait_for_a_join() {
    scenarios::other_tokens_do_not_wait(&mut SimScenario::new()).await;
}

#[tokio::test(start_paused = true)]
async fn two_joins_of_one_token_run_one_after_the_other() {
    scenarios::joins_of_one_token_queue(&mut SimScenario::new()).await;
}

#[tokio::test(start_paused = true)]
async fn a_join_with_each_strategy_opens_channels_only_to_eligible_partners() {
    scenarios::each_strategy_joins_eligible_partners(&mut SimScenario::new()).await;
}
