//! Plans (SPEC §2.8) on the simulated chain (virtual time) and on our contracts on anvil:
//! the scenario of `common::plan_scenarios` on both.

mod common;

use common::anvil::AnvilScenario;
use common::plan_scenarios::{self, PlanNet};
use common::SimScenario;
use tokennet::types::{Address, U256};

impl PlanNet for SimScenario {
    async fn nonce(&self, _owner: Address) -> Option<u64> {
        None
    }

    async fn set_eth_balance(&self, owner: Address, wei: U256) {
        self.net.chain.set_eth_balance(owner, wei);
    }
}

impl PlanNet for AnvilScenario {
    async fn nonce(&self, owner: Address) -> Option<u64> {
        let count = self
            .raw(
                "eth_getTransactionCount",
                serde_json::json!([owner, "latest"]),
            )
            .await;
        let hex = count.as_str().expect("a quantity");
        Some(u64::from_str_radix(hex.trim_start_matches("0x"), 16).expect("a hex quantity"))
    }

    async fn set_eth_balance(&self, owner: Address, wei: U256) {
        self.raw(
            "anvil_setBalance",
            serde_json::json!([owner, format!("{wei:#x}")]),
        )
        .await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_plan_changes_nothing_and_the_put_follows_it() {
    plan_scenarios::a_plan_changes_nothing_and_the_put_follows_it(&mut SimScenario::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_changes_nothing_and_the_put_follows_it_on_anvil() {
    plan_scenarios::a_plan_changes_nothing_and_the_put_follows_it(
        &mut AnvilScenario::start().await,
    )
    .await;
}
