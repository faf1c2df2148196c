#![allow(clippy::unwrap_used)]
//! Property tests of request parsing (SPEC §2): the join and mint body parsers, the
//! address in the path, and the whole API through `warp::test::request()`.
//!
//! What must hold for *every* input: nothing panics; a valid body parses to the value it
//! encodes, in every form the API accepts; an invalid one is a 409 whose message names the
//! field or the cause; an address is accepted only in its EIP-55 form, anything else is a
//! 404 with SPEC §2.1's reason; and the API never answers 500 to a client's mistake, always
//! answers an error with a JSON `{"errors": "…"}` body, and only with the status codes of
//! SPEC §2.7.
//!
//! The near-valid bodies are built field by field together with what each field means
//! (the value it encodes, or "refused"), so that the expected outcome comes from SPEC §2.3's
//! rules, not from the parser under test.

mod common;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt::Write as _;

use common::TestNet;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;
use tokennet::api::body::{join_params, mint_request, MAX_BODY_BYTES};
use tokennet::api::error::ApiError;
use tokennet::connection::strategy::StrategyKind;
use tokennet::connection::{
    ConnectionParams, JoinableFraction, DEFAULT_INITIAL_CHANNEL_TARGET,
    DEFAULT_JOINABLE_FUNDS_TARGET, MAX_INITIAL_CHANNEL_TARGET,
};
use tokennet::types::{
    checksummed, parse_checksummed_address, Address, AddressParseError, BOOTSTRAP_ADDRESS, U256,
};
use warp::http::{StatusCode, Uri};

/// Billionths in one whole (the resolution of `joinable_funds_target`).
const BILLION: u32 = 1_000_000_000;

const JOIN_FIELDS: &[&str] = &[
    "funds",
    "initial_channel_target",
    "joinable_funds_target",
    "partner_selection",
];
const MINT_FIELDS: &[&str] = &["to", "value"];

/// SPEC §2.1's reasons for an address in the path that is not EIP-55.
const NO_PREFIX: &str = "Not a valid hex address, 0x prefix missing.";
const NOT_HEX: &str = "Could not decode hex.";
const BAD_CHECKSUM: &str = "Not a valid EIP55 encoded address.";

// ---------------------------------------------------------------------------------------
// Outcomes

/// The message of a refused body, after checking that the refusal is the 409
/// invalid-input error.
fn refusal<T: std::fmt::Debug>(result: Result<T, ApiError>) -> Result<String, TestCaseError> {
    match result {
        Err(ApiError::InvalidInput(message)) => {
            let status = ApiError::InvalidInput(message.clone()).status();
            prop_assert_eq!(status, StatusCode::CONFLICT);
            prop_assert!(!message.is_empty(), "an empty message");
            Ok(message)
        }
        other => Err(TestCaseError::fail(format!(
            "expected a 409 invalid-input error, got {other:?}"
        ))),
    }
}

/// A body and what it must give: the parsed value, or a refusal whose message contains
/// the text given.
#[derive(Clone, Debug)]
struct Built<T> {
    body: String,
    want: Result<T, String>,
}

fn check_against<T: PartialEq + std::fmt::Debug>(
    result: Result<T, ApiError>,
    want: &Result<T, String>,
) -> Result<(), TestCaseError> {
    match want {
        Ok(value) => match result {
            Ok(parsed) => prop_assert_eq!(&parsed, value),
            Err(error) => {
                return Err(TestCaseError::fail(format!(
                    "refused a valid body ({error}); expected {value:?}"
                )))
            }
        },
        Err(needle) => {
            let message = refusal(result)?;
            prop_assert!(
                message.contains(needle.as_str()),
                "the error {:?} does not mention {:?}",
                message,
                needle
            );
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Field values, each with what it means

/// The raw JSON text of one field's value, and the value it stands for when the field
/// accepts it (`None`: the field must be refused, naming it).
#[derive(Clone, Debug)]
struct Field<T> {
    json: String,
    want: Option<T>,
}

fn valid<T>(json: impl Into<String>, value: T) -> Field<T> {
    Field {
        json: json.into(),
        want: Some(value),
    }
}

fn invalid<T>(json: impl Into<String>) -> Field<T> {
    Field {
        json: json.into(),
        want: None,
    }
}

fn quoted(text: &str) -> String {
    serde_json::to_string(text).unwrap()
}

/// 256-bit integers with the edges over-represented.
fn u256() -> BoxedStrategy<U256> {
    prop_oneof![
        1 => Just(U256::ZERO),
        1 => Just(U256::from(1u8)),
        1 => Just(U256::MAX),
        4 => (0u64..10_000).prop_map(U256::from),
        2 => any::<u64>().prop_map(U256::from),
        2 => any::<u128>().prop_map(U256::from),
        3 => any::<[u8; 32]>().prop_map(U256::from_be_bytes),
        1 => (0usize..256).prop_map(|k| U256::from(1u8) << k),
    ]
    .boxed()
}

/// JSON that is no number and no string: null, booleans, arrays, objects, and nesting
/// far deeper than any parser's recursion limit.
fn other_json() -> BoxedStrategy<String> {
    prop_oneof![
        prop::sample::select(vec![
            "null",
            "true",
            "false",
            "[]",
            "[1]",
            "[\"1\"]",
            "{}",
            "{\"funds\": 1}",
            "{\"value\": \"1\"}",
        ])
        .prop_map(String::from),
        (1usize..3000, any::<bool>()).prop_map(|(depth, arrays)| deep(depth, arrays)),
    ]
    .boxed()
}

/// `[[[…1…]]]` or `{"a":{"a":…1…}}`, `depth` levels.
fn deep(depth: usize, arrays: bool) -> String {
    if arrays {
        format!("{}1{}", "[".repeat(depth), "]".repeat(depth))
    } else {
        format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth))
    }
}

/// Whitespace a digit string must not contain (escaped into JSON by [`quoted`]).
fn whitespace() -> BoxedStrategy<&'static str> {
    prop::sample::select(vec![" ", "\t", "\n", "\r", "\u{a0}", "\u{3000}"]).boxed()
}

/// An amount (SPEC §2.1): a JSON integer or a string of decimal digits, 0 to 2^256 − 1.
/// Leading zeros are fine in a string; signs, fractions, exponents, whitespace, other
/// digits and other types are not.
fn amount_field() -> BoxedStrategy<Field<U256>> {
    prop_oneof![
        5 => u256().prop_map(|v| valid(v.to_string(), v)),
        3 => u256().prop_map(|v| valid(quoted(&v.to_string()), v)),
        2 => (u256(), 1usize..6)
            .prop_map(|(v, zeros)| valid(quoted(&format!("{}{v}", "0".repeat(zeros))), v)),
        2 => (u256(), whitespace(), 0usize..3).prop_map(|(v, space, at)| {
            let digits = v.to_string();
            let text = match at {
                0 => format!("{space}{digits}"),
                1 => format!("{digits}{space}"),
                _ => format!("{}{space}{}", &digits[..1], &digits[1..]),
            };
            invalid(quoted(&text))
        }),
        2 => (1u8..10, 0usize..30, any::<bool>()).prop_map(|(digit, zeros, as_string)| {
            // Above 2^256 − 1.
            let digits = format!("{}{digit}{}", U256::MAX, "0".repeat(zeros));
            invalid(if as_string { quoted(&digits) } else { digits })
        }),
        2 => (u256(), any::<bool>()).prop_map(|(v, as_string)| {
            let text = format!("-{}", v.max(U256::from(1u8)));
            invalid(if as_string { quoted(&text) } else { text })
        }),
        1 => Just(invalid("-0")),
        3 => (any::<u64>(), any::<u32>(), 0u8..5).prop_map(|(whole, part, form)| invalid(match form {
            0 => format!("{whole}.{part}"),
            1 => format!("{whole}.0"),
            2 => format!("{whole}e{}", part % 400),
            3 => format!("{whole}E+{}", part % 80),
            _ => quoted(&format!("{whole}.{part}")),
        })),
        2 => prop::sample::select(vec![
            "\"\"", "\"abc\"", "\"0x10\"", "\"1_000\"", "\"+5\"", "\"12a\"", "\"١٢\"",
            "\"1e3\"", "\"٣\"",
        ])
        .prop_map(invalid),
        2 => other_json().prop_map(invalid),
    ]
    .boxed()
}

/// `initial_channel_target`: a JSON integer from 0 to 1000, or a string of decimal digits
/// with that value (leading zeros allowed, as in amounts); nothing else.
fn target_field() -> BoxedStrategy<Field<u32>> {
    prop_oneof![
        4 => (0..=MAX_INITIAL_CHANNEL_TARGET).prop_map(|n| valid(n.to_string(), n)),
        2 => prop::sample::select(vec![0, 1, MAX_INITIAL_CHANNEL_TARGET - 1, MAX_INITIAL_CHANNEL_TARGET])
            .prop_map(|n| valid(n.to_string(), n)),
        2 => (u64::from(MAX_INITIAL_CHANNEL_TARGET) + 1..=u64::MAX)
            .prop_map(|n| invalid(n.to_string())),
        1 => (1u8..10, 20usize..90).prop_map(|(d, zeros)| invalid(format!("{d}{}", "0".repeat(zeros)))),
        2 => (1u64..=u64::MAX).prop_map(|n| invalid(format!("-{n}"))),
        1 => Just(invalid("-0")),
        2 => (0..=MAX_INITIAL_CHANNEL_TARGET, 0u8..4).prop_map(|(n, form)| invalid(match form {
            0 => format!("{n}.0"),
            1 => format!("{n}.5"),
            2 => format!("{n}e0"),
            _ => format!("{n}E1"),
        })),
        3 => (0..=MAX_INITIAL_CHANNEL_TARGET).prop_map(|n| valid(quoted(&n.to_string()), n)),
        1 => (0..=MAX_INITIAL_CHANNEL_TARGET, 1usize..4)
            .prop_map(|(n, zeros)| valid(quoted(&format!("{}{n}", "0".repeat(zeros))), n)),
        // Strings that hold no whole number of the range, or not only digits.
        2 => (0..=MAX_INITIAL_CHANNEL_TARGET, whitespace(), 0u8..9).prop_map(|(n, space, form)| {
            invalid(quoted(&match form {
                0 => format!("{n}.5"),
                1 => format!("{n}.0"),
                2 => format!("{space}{n}"),
                3 => format!("{n}{space}"),
                4 => format!("+{n}"),
                5 => format!("-{n}"),
                6 => format!("{n}e0"),
                7 => format!("{}", u64::from(MAX_INITIAL_CHANNEL_TARGET) + 1 + u64::from(n)),
                _ => format!("1{n}0000000000000000000000"),
            }))
        }),
        1 => prop::sample::select(vec!["\"\"", "\"abc\"", "\"3.5\"", "\" 3\"", "\"0x3\"", "\"٣\"", "\"three\""])
            .prop_map(invalid),
        2 => other_json().prop_map(invalid),
    ]
    .boxed()
}

fn fraction(billionths: u32) -> JoinableFraction {
    JoinableFraction::from_billionths(billionths)
}

/// `billionths / 10^9` written as a plain decimal, exactly.
fn fraction_text(billionths: u32) -> String {
    if billionths == BILLION {
        "1.000000000".into()
    } else {
        format!("0.{billionths:09}")
    }
}

fn billionths() -> BoxedStrategy<u32> {
    prop_oneof![
        Just(0),
        Just(BILLION),
        Just(400_000_000),
        Just(1),
        Just(BILLION - 1),
        0..=BILLION,
        0..=BILLION,
    ]
    .boxed()
}

/// `joinable_funds_target`: a JSON number from 0.0 to 1.0 (integers 0 and 1 included),
/// or a string holding such a number as a person writes it (`"0.4"`, `"1"`, `"4e-1"`,
/// leading zeros allowed); a string with spaces, a sign `+`, a bare `.5`, or no number is
/// refused.
fn joinable_field() -> BoxedStrategy<Field<JoinableFraction>> {
    prop_oneof![
        4 => billionths().prop_map(|b| valid(fraction_text(b), fraction(b))),
        2 => billionths().prop_map(|b| valid(format!("{b}e-9"), fraction(b))),
        2 => billionths().prop_map(|b| valid(format!("{}", f64::from(b) / 1e9), fraction(b))),
        1 => billionths().prop_map(|b| valid(format!("{:e}", f64::from(b) / 1e9), fraction(b))),
        2 => prop::sample::select(vec![
            ("0", 0), ("1", BILLION), ("0.0", 0), ("1.0", BILLION), ("-0.0", 0), ("-0", 0),
            ("0e5", 0), ("1E0", BILLION), ("10e-1", BILLION), ("0.4", 400_000_000),
        ])
        .prop_map(|(text, b)| valid(text, fraction(b))),
        // Above 1.
        2 => (1u32..BILLION, 0u8..4).prop_map(|(n, form)| invalid(match form {
            0 => format!("1.{n:09}"),
            1 => format!("{}", n + 1),
            2 => format!("{}e-8", u64::from(n) + 100_000_000),
            _ => "1e400".to_string(),
        })),
        // Below 0.
        2 => (1u32..BILLION, 0u8..3).prop_map(|(n, form)| invalid(match form {
            0 => format!("-0.{n:09}"),
            1 => format!("-{n}"),
            _ => "-1e-300".to_string(),
        })),
        3 => billionths().prop_map(|b| valid(quoted(&fraction_text(b)), fraction(b))),
        1 => billionths().prop_map(|b| valid(quoted(&format!("{b}e-9")), fraction(b))),
        1 => billionths().prop_map(|b| valid(quoted(&format!("{}", f64::from(b) / 1e9)), fraction(b))),
        1 => billionths().prop_map(|b| valid(quoted(&format!("00{}", fraction_text(b))), fraction(b))),
        1 => prop::sample::select(vec![("\"0\"", 0), ("\"1\"", BILLION), ("\"-0\"", 0), ("\"0.4\"", 400_000_000), ("\"1E0\"", BILLION)])
            .prop_map(|(text, b)| valid(text, fraction(b))),
        2 => (billionths(), whitespace(), 0u8..8).prop_map(|(b, space, form)| {
            let text = fraction_text(b);
            invalid(quoted(&match form {
                0 => format!("{space}{text}"),
                1 => format!("{text}{space}"),
                2 => format!("+{text}"),
                3 => format!(".{b:09}"),
                4 => format!("{}.", b / BILLION),
                5 => format!("1.{}", b.max(1)),
                6 => format!("-0.{:09}", b.max(1)),
                _ => format!("{text}%"),
            }))
        }),
        1 => prop::sample::select(vec!["\"\"", "\"abc\"", "\"NaN\"", "\"inf\"", "\"0x1\"", "\"0,4\"", "\"½\""])
            .prop_map(invalid),
        2 => other_json().prop_map(invalid),
    ]
    .boxed()
}

/// `partner_selection`: a JSON string holding the name of a strategy (SPEC §3.1), exactly.
fn strategy_field() -> BoxedStrategy<Field<StrategyKind>> {
    prop_oneof![
        4 => prop::sample::select(StrategyKind::ALL.to_vec()).prop_map(|k| valid(quoted(k.name()), k)),
        2 => (prop::sample::select(StrategyKind::ALL.to_vec()), 0u8..4).prop_map(|(k, form)| {
            invalid(quoted(&match form {
                0 => k.name().to_uppercase(),
                1 => format!(" {}", k.name()),
                2 => format!("{}\u{0}", k.name()),
                _ => format!("{}s", k.name()),
            }))
        }),
        1 => "[a-z_]{0,12}".prop_filter_map("not a strategy", |text| {
            text.parse::<StrategyKind>().is_err().then(|| invalid(quoted(&text)))
        }),
        1 => other_json().prop_map(invalid),
        1 => Just(invalid("1")),
    ]
    .boxed()
}

/// The node's `--partner-selection`, for bodies that name no strategy.
fn default_strategy() -> BoxedStrategy<StrategyKind> {
    prop::sample::select(StrategyKind::ALL.to_vec()).boxed()
}

/// Addresses, including ones whose hex has no letters (their lowercase form is their
/// EIP-55 form).
fn address() -> BoxedStrategy<Address> {
    prop_oneof![
        8 => any::<[u8; 20]>().prop_map(Address::from),
        1 => any::<[u8; 20]>().prop_map(|bytes| {
            Address::from(bytes.map(|b| (((b >> 4) % 10) << 4) | ((b & 0xF) % 10)))
        }),
        1 => prop::sample::select(vec![Address::ZERO, BOOTSTRAP_ADDRESS, Address::new([0xFF; 20])]),
    ]
    .boxed()
}

/// Texts near an EIP-55 address: other cases, one letter flipped, no or a wrong prefix,
/// wrong lengths, non-hex digits.
fn near_address() -> BoxedStrategy<String> {
    (address(), 0u8..9, any::<Index>(), "[g-zG-Z]")
        .prop_map(|(a, form, at, junk)| {
            let text = checksummed(&a);
            let digits = &text[2..];
            match form {
                0 => text.to_lowercase(),
                1 => format!("0x{}", digits.to_uppercase()),
                2 => flip(&text, at.index(40) + 2),
                3 => digits.to_string(),
                4 => format!("0X{digits}"),
                5 => text[..at.index(41) + 1].to_string(),
                6 => format!("{text}{}", &digits[..at.index(5) + 1]),
                7 => {
                    let i = at.index(40) + 2;
                    format!("{}{junk}{}", &text[..i], &text[i + 1..])
                }
                _ => format!("%30x{digits}"),
            }
        })
        .boxed()
}

/// `text` with the case of the character at `at` flipped.
fn flip(text: &str, at: usize) -> String {
    text.char_indices()
        .map(|(i, c)| {
            if i != at {
                c
            } else if c.is_ascii_uppercase() {
                c.to_ascii_lowercase()
            } else {
                c.to_ascii_uppercase()
            }
        })
        .collect()
}

/// The `to` of a mint: a JSON string holding an EIP-55 address.
fn to_field() -> BoxedStrategy<Field<Address>> {
    prop_oneof![
        4 => address().prop_map(|a| valid(quoted(&checksummed(&a)), a)),
        3 => near_address().prop_map(|text| {
            let json = quoted(&text);
            match parse_checksummed_address(&text) {
                // A lowercase address without letters is its own EIP-55 form.
                Ok(a) => valid(json, a),
                Err(_) => invalid(json),
            }
        }),
        1 => address().prop_map(|a| invalid(format!("{:?}", a.as_slice()))),
        1 => prop::sample::select(vec!["\"\"", "\"0x\"", "0", "1234"]).prop_map(invalid),
        1 => other_json().prop_map(invalid),
    ]
    .boxed()
}

/// Any JSON value, small.
fn json_value() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f)
            .map(Value::Number)),
        "\\PC{0,20}".prop_map(Value::String),
        u256().prop_map(|v| Value::String(v.to_string())),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(any_key(), inner, 0..6)
                .prop_map(|fields| Value::Object(fields.into_iter().collect())),
        ]
    })
    .boxed()
}

/// Object keys: mostly the fields the API knows, sometimes anything.
fn any_key() -> BoxedStrategy<String> {
    prop_oneof![
        3 => prop::sample::select([JOIN_FIELDS, MINT_FIELDS].concat()).prop_map(String::from),
        1 => "\\PC{0,12}",
    ]
    .boxed()
}

/// Field names that are not among `known`: near misses and anything.
fn unknown_key(known: &'static [&'static str]) -> BoxedStrategy<String> {
    prop_oneof![
        prop::sample::select(vec![
            "fund",
            "Funds",
            "funds ",
            " funds",
            "FUNDS",
            "initial_channel_targets",
            "joinable",
            "to",
            "value",
            "To",
            "",
            "\u{0}",
            "funds\u{0}",
        ])
        .prop_map(String::from),
        "\\PC{0,12}",
    ]
    .prop_filter("a known field", move |key| !known.contains(&key.as_str()))
    .boxed()
}

/// Extra fields: usually none.
fn extras(known: &'static [&'static str]) -> BoxedStrategy<BTreeMap<String, String>> {
    prop_oneof![
        4 => Just(BTreeMap::new()),
        1 => prop::collection::btree_map(unknown_key(known), json_value().prop_map(|v| v.to_string()), 1..3),
    ]
    .boxed()
}

/// A JSON object with `entries` (raw JSON values) in an order and with whitespace drawn
/// from `seed`.
fn object(mut entries: Vec<(String, String)>, seed: u64) -> String {
    const SPACE: [&str; 6] = ["", "", " ", "\n", "\t", "\r\n  "];
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    entries.shuffle(&mut rng);
    let mut space = || SPACE[rng.random_range(0..SPACE.len())];
    let mut out = String::new();
    out.push_str(space());
    out.push('{');
    for (i, (key, value)) in entries.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let (a, b, c, d) = (space(), space(), space(), space());
        write!(out, "{a}{}{b}:{c}{value}{d}", quoted(key)).unwrap();
    }
    out.push_str(space());
    out.push('}');
    out.push_str(space());
    out
}

// ---------------------------------------------------------------------------------------
// Near-valid bodies

/// SPEC §2.3's outcome for a join body with these fields: unknown fields first (the
/// first in sort order is named), then `funds` (missing, invalid, zero), then the
/// target, then the joinable share, then the strategy (the node's `default` when absent).
fn join_outcome(
    extras: &BTreeMap<String, String>,
    funds: Option<Field<U256>>,
    target: Option<Field<u32>>,
    joinable: Option<Field<JoinableFraction>>,
    strategy: Option<Field<StrategyKind>>,
    default: StrategyKind,
) -> Result<ConnectionParams, String> {
    if let Some(first) = extras.keys().next() {
        return Err(format!("Unknown field '{first}'"));
    }
    let funds = funds.ok_or("Missing field 'funds'")?;
    let funds = funds.want.ok_or("'funds'")?;
    if funds.is_zero() {
        return Err("'funds' must be greater than zero".into());
    }
    let initial_channel_target = match target {
        None => DEFAULT_INITIAL_CHANNEL_TARGET,
        Some(field) => field.want.ok_or("'initial_channel_target'")?,
    };
    let joinable_funds_target = match joinable {
        None => DEFAULT_JOINABLE_FUNDS_TARGET,
        Some(field) => field.want.ok_or("'joinable_funds_target'")?,
    };
    let partner_selection = match strategy {
        None => default,
        Some(field) => field
            .want
            .ok_or(format!("valid strategies are {}", StrategyKind::names()))?,
    };
    Ok(ConnectionParams {
        partner_selection,
        funds,
        initial_channel_target,
        joinable_funds_target,
    })
}

/// The outcome for a mint body: unknown fields, then `to` (missing, not a string, not
/// EIP-55), then `value` (missing, not an amount). Zero is a valid value.
fn mint_outcome(
    extras: &BTreeMap<String, String>,
    to: Option<Field<Address>>,
    value: Option<Field<U256>>,
) -> Result<(Address, U256), String> {
    if let Some(first) = extras.keys().next() {
        return Err(format!("Unknown field '{first}'"));
    }
    let to = to.ok_or("Missing field 'to'")?.want.ok_or("'to'")?;
    let value = value
        .ok_or("Missing field 'value'")?
        .want
        .ok_or("'value'")?;
    Ok((to, value))
}

/// A join body from optional fields and extras, in any order, with its expected outcome.
fn join_body() -> BoxedStrategy<Built<ConnectionParams>> {
    join_body_with(StrategyKind::default())
}

/// [`join_body`] for a node whose `--partner-selection` is `default`.
fn join_body_with(default: StrategyKind) -> BoxedStrategy<Built<ConnectionParams>> {
    (
        prop::option::weighted(0.9, amount_field()),
        prop::option::weighted(0.6, target_field()),
        prop::option::weighted(0.6, joinable_field()),
        prop::option::weighted(0.4, strategy_field()),
        extras(JOIN_FIELDS),
        any::<u64>(),
    )
        .prop_map(move |(funds, target, joinable, strategy, extras, seed)| {
            let mut entries: Vec<(String, String)> = extras.clone().into_iter().collect();
            for (name, json) in [
                ("funds", funds.as_ref().map(|f| &f.json)),
                ("initial_channel_target", target.as_ref().map(|f| &f.json)),
                ("joinable_funds_target", joinable.as_ref().map(|f| &f.json)),
                ("partner_selection", strategy.as_ref().map(|f| &f.json)),
            ] {
                if let Some(json) = json {
                    entries.push((name.to_string(), json.clone()));
                }
            }
            let want = join_outcome(&extras, funds, target, joinable, strategy, default);
            Built {
                body: object(entries, seed),
                want,
            }
        })
        .boxed()
}

/// A mint body from optional fields and extras, with its expected outcome.
fn mint_body() -> BoxedStrategy<Built<(Address, U256)>> {
    (
        prop::option::weighted(0.9, to_field()),
        prop::option::weighted(0.9, amount_field()),
        extras(MINT_FIELDS),
        any::<u64>(),
    )
        .prop_map(|(to, value, extras, seed)| {
            let mut entries: Vec<(String, String)> = extras.clone().into_iter().collect();
            for (name, json) in [
                ("to", to.as_ref().map(|f| &f.json)),
                ("value", value.as_ref().map(|f| &f.json)),
            ] {
                if let Some(json) = json {
                    entries.push((name.to_string(), json.clone()));
                }
            }
            let want = mint_outcome(&extras, to, value);
            Built {
                body: object(entries, seed),
                want,
            }
        })
        .boxed()
}

/// A body that is not JSON: a near-valid one cut short before its closing brace, with a
/// raw control character (never valid JSON, in a string or out), with a leading-zero
/// integer, or after a byte-order mark.
fn broken_body() -> BoxedStrategy<String> {
    (
        join_body(),
        any::<Index>(),
        0u8..4,
        prop::sample::select(vec!['\u{1}', '\u{7}', '\u{1f}']),
    )
        .prop_map(|(built, at, form, junk)| {
            let body = built.body;
            let end = body.rfind('}').unwrap_or(0);
            let cuts: Vec<usize> = body
                .char_indices()
                .map(|(i, _)| i)
                .filter(|i| *i < end)
                .collect();
            let cut = if cuts.is_empty() { 0 } else { *at.get(&cuts) };
            match form {
                0 if !body[..cut].trim().is_empty() => body[..cut].to_string(),
                1 => format!("{}{junk}{}", &body[..cut], &body[cut..]),
                2 => "{\"funds\": 007}".to_string(),
                _ => format!("\u{feff}{body}"),
            }
        })
        .boxed()
}

/// The parameters of a join, anywhere in their valid ranges.
fn params() -> BoxedStrategy<ConnectionParams> {
    (
        u256().prop_map(|f| f.max(U256::from(1u8))),
        prop_oneof![
            Just(0),
            Just(DEFAULT_INITIAL_CHANNEL_TARGET),
            Just(MAX_INITIAL_CHANNEL_TARGET),
            0..=MAX_INITIAL_CHANNEL_TARGET,
        ],
        billionths(),
        default_strategy(),
    )
        .prop_map(|(funds, target, b, partner_selection)| ConnectionParams {
            partner_selection,
            funds,
            initial_channel_target: target,
            joinable_funds_target: fraction(b),
        })
        .boxed()
}

/// Every accepted text of an amount.
fn amount_forms(v: U256) -> Vec<String> {
    vec![
        v.to_string(),
        quoted(&v.to_string()),
        quoted(&format!("000{v}")),
    ]
}

/// Every accepted way to write `params` as a join body's fields (`None`: omitted, for
/// a default).
fn join_forms(p: &ConnectionParams, default: StrategyKind) -> Vec<Vec<(String, String)>> {
    let mut strategies = vec![Some(quoted(p.partner_selection.name()))];
    if p.partner_selection == default {
        strategies.push(None);
    }
    let mut targets = vec![
        Some(p.initial_channel_target.to_string()),
        Some(quoted(&p.initial_channel_target.to_string())),
        Some(quoted(&format!("0{}", p.initial_channel_target))),
    ];
    if p.initial_channel_target == DEFAULT_INITIAL_CHANNEL_TARGET {
        targets.push(None);
    }
    let b = p.joinable_funds_target.billionths();
    let share = f64::from(b) / 1e9;
    let mut joinables: Vec<Option<String>> = vec![
        Some(fraction_text(b)),
        Some(format!("{b}e-9")),
        Some(format!("{b}E-9")),
        Some(format!("{share}")),
        Some(format!("{share:e}")),
        Some(quoted(&fraction_text(b))),
        Some(quoted(&format!("{share}"))),
        Some(quoted(&format!("{b}e-9"))),
    ];
    match b {
        0 => joinables.extend(["0", "-0.0", "0e0"].map(|t| Some(t.to_string()))),
        BILLION => joinables.extend(["1", "1e0", "0.1e1"].map(|t| Some(t.to_string()))),
        _ => {}
    }
    if p.joinable_funds_target == DEFAULT_JOINABLE_FUNDS_TARGET {
        joinables.push(None);
    }
    let mut forms = Vec::new();
    for funds in amount_forms(p.funds) {
        for target in &targets {
            for joinable in &joinables {
                for strategy in &strategies {
                    let mut entries = vec![("funds".to_string(), funds.clone())];
                    if let Some(target) = target {
                        entries.push(("initial_channel_target".into(), target.clone()));
                    }
                    if let Some(joinable) = joinable {
                        entries.push(("joinable_funds_target".into(), joinable.clone()));
                    }
                    if let Some(strategy) = strategy {
                        entries.push(("partner_selection".into(), strategy.clone()));
                    }
                    forms.push(entries);
                }
            }
        }
    }
    forms
}

// ---------------------------------------------------------------------------------------
// Body parsers

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// Arbitrary bytes: no panic; a refusal is the 409 invalid-input error; whatever is
    /// accepted is within the valid ranges.
    #[test]
    fn arbitrary_bytes_never_break_the_parsers(
        bytes in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..512),
            "\\PC{0,200}".prop_map(String::into_bytes),
        ]
    ) {
        match join_params(&bytes, StrategyKind::default()) {
            Ok(p) => {
                prop_assert!(!p.funds.is_zero());
                prop_assert!(p.initial_channel_target <= MAX_INITIAL_CHANNEL_TARGET);
                prop_assert!(p.joinable_funds_target.billionths() <= BILLION);
            }
            Err(error) => { refusal::<()>(Err(error))?; }
        }
        if let Err(error) = mint_request(&bytes) {
            refusal::<()>(Err(error))?;
        }
    }

    /// Arbitrary JSON values (objects mostly with the API's field names): no panic, a
    /// non-object is refused as such, and an accepted body has only known fields.
    #[test]
    fn arbitrary_json_never_breaks_the_parsers(value in json_value()) {
        let text = value.to_string();
        for (result, known) in [
            (join_params(text.as_bytes(), StrategyKind::default()).map(|_| ()), JOIN_FIELDS),
            (mint_request(text.as_bytes()).map(|_| ()), MINT_FIELDS),
        ] {
            match (&value, result) {
                (Value::Object(fields), Ok(())) => {
                    prop_assert!(fields.keys().all(|k| known.contains(&k.as_str())));
                }
                (_, Ok(())) => {
                    return Err(TestCaseError::fail(format!("accepted a non-object: {text}")));
                }
                (Value::Object(_), Err(error)) => { refusal::<()>(Err(error))?; }
                (_, Err(error)) => {
                    let message = refusal::<()>(Err(error))?;
                    prop_assert!(message.contains("JSON object"), "{}", message);
                }
            }
        }
    }

    /// Near-valid join bodies: right fields with random types and values, huge,
    /// negative, fractional, digit strings with leading zeros or whitespace, deep nesting,
    /// extra fields. Accepted exactly when SPEC §2.3 says so, with the value written;
    /// refused naming the field at fault.
    #[test]
    fn join_bodies_parse_by_the_spec(built in join_body()) {
        check_against(join_params(built.body.as_bytes(), StrategyKind::default()), &built.want)?;
    }

    /// The same with another `--partner-selection`: a body that names no strategy gets
    /// the node's.
    #[test]
    fn join_bodies_without_a_strategy_get_the_nodes(
        (default, built) in default_strategy().prop_flat_map(|d| (Just(d), join_body_with(d)))
    ) {
        check_against(join_params(built.body.as_bytes(), default), &built.want)?;
    }

    /// The same for mint bodies.
    #[test]
    fn mint_bodies_parse_by_the_spec(built in mint_body()) {
        check_against(mint_request(built.body.as_bytes()), &built.want)?;
    }

    /// A body that is not JSON is refused, and the message says what is wrong with it.
    #[test]
    fn broken_json_is_refused_as_such(body in broken_body()) {
        for result in [
            join_params(body.as_bytes(), StrategyKind::default()).map(|_| ()),
            mint_request(body.as_bytes()).map(|_| ()),
        ] {
            let message = refusal(result)?;
            prop_assert!(message.contains("JSON"), "{:?} for {:?}", message, body);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Round trip: any valid parameters, written in every accepted form (amount as
    /// integer, as digit string, with leading zeros; target as integer or digit string;
    /// share as decimal, exponent, shortest float, integer, or any of those in a string;
    /// strategy named or, when it is the node's default, omitted; defaults omitted; any
    /// order and whitespace), parse back to themselves.
    #[test]
    fn every_form_of_valid_join_parameters_round_trips(
        p in params(),
        default in default_strategy(),
        seed in any::<u64>(),
    ) {
        for (i, entries) in join_forms(&p, default).into_iter().enumerate() {
            let body = object(entries, seed.wrapping_add(i as u64));
            match join_params(body.as_bytes(), default) {
                Ok(parsed) => prop_assert_eq!(parsed, p, "body {}", body),
                Err(error) => {
                    return Err(TestCaseError::fail(format!("{body} refused: {error}")));
                }
            }
        }
    }

    /// Round trip of mint bodies: any address and any amount (0 included).
    #[test]
    fn every_form_of_a_valid_mint_round_trips(to in address(), value in u256(), seed in any::<u64>()) {
        for (i, value_text) in amount_forms(value).into_iter().enumerate() {
            let entries = vec![
                ("to".to_string(), quoted(&checksummed(&to))),
                ("value".to_string(), value_text),
            ];
            let body = object(entries, seed.wrapping_add(i as u64));
            match mint_request(body.as_bytes()) {
                Ok(parsed) => prop_assert_eq!(parsed, (to, value), "body {}", body),
                Err(error) => {
                    return Err(TestCaseError::fail(format!("{body} refused: {error}")));
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Addresses in the path

/// SPEC §2.1's table, as a model: no `0x` prefix; not 40 hex digits; not the EIP-55
/// spelling of those digits.
fn model_address(text: &str) -> Result<Address, AddressParseError> {
    let digits = text
        .strip_prefix("0x")
        .ok_or(AddressParseError::MissingPrefix)?;
    if digits.len() != 40 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AddressParseError::NotHex);
    }
    let mut bytes = [0u8; 20];
    for (i, byte) in bytes.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&digits[2 * i..2 * i + 2], 16).unwrap();
    }
    let address = Address::from(bytes);
    if checksummed(&address) == text {
        Ok(address)
    } else {
        Err(AddressParseError::BadChecksum)
    }
}

fn reason(error: &AddressParseError) -> &'static str {
    match error {
        AddressParseError::MissingPrefix => NO_PREFIX,
        AddressParseError::NotHex => NOT_HEX,
        AddressParseError::BadChecksum => BAD_CHECKSUM,
    }
}

/// Texts for the address parser: anything, hex-ish, near-addresses.
fn address_text() -> BoxedStrategy<String> {
    prop_oneof![
        any::<String>(),
        "(0x|0X|x|)[0-9a-fA-F]{0,44}",
        "0x[0-9a-fA-FgxX ]{38,42}",
        "0x[0-9a-f\u{0}-\u{ff}]{38,42}",
        near_address(),
        address().prop_map(|a| checksummed(&a)),
    ]
    .boxed()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    /// Any text: no panic, and the parser agrees with SPEC §2.1's table; a refusal is a
    /// 404 with the table's reason.
    #[test]
    fn address_parsing_follows_the_spec_table(text in address_text()) {
        let parsed = parse_checksummed_address(&text);
        prop_assert_eq!(&parsed, &model_address(&text), "for {:?}", text);
        if let Err(error) = parsed {
            let api = ApiError::from(error.clone());
            prop_assert_eq!(api.status(), StatusCode::NOT_FOUND);
            prop_assert_eq!(api.to_string(), reason(&error));
        }
    }

    /// Every address parses from its EIP-55 form; flipping the case of any non-empty set
    /// of its letters, or writing it all in one case when that differs, is refused as a
    /// bad checksum; other prefixes and lengths as SPEC §2.1 says.
    #[test]
    fn checksummed_addresses_parse_and_any_case_flip_is_refused(
        a in address(),
        flips in prop::collection::vec(any::<bool>(), 40),
        cut in 0usize..40,
    ) {
        let text = checksummed(&a);
        prop_assert_eq!(parse_checksummed_address(&text), Ok(a));
        let letters: Vec<usize> = (2..42).filter(|i| text.as_bytes()[*i].is_ascii_alphabetic()).collect();
        let chosen: Vec<usize> = letters.iter().copied().filter(|i| flips[i - 2]).collect();
        let mut variants: Vec<String> = letters.iter().map(|at| flip(&text, *at)).collect();
        if !chosen.is_empty() {
            variants.push(chosen.iter().fold(text.clone(), |t, i| flip(&t, *i)));
        }
        for flipped in variants {
            prop_assert_eq!(
                parse_checksummed_address(&flipped),
                Err(AddressParseError::BadChecksum),
                "{}", flipped
            );
        }
        for other in [text.to_lowercase(), format!("0x{}", text[2..].to_uppercase())] {
            let expected = if other == text { Ok(a) } else { Err(AddressParseError::BadChecksum) };
            prop_assert_eq!(parse_checksummed_address(&other), expected);
        }
        prop_assert_eq!(parse_checksummed_address(&text[2..]), Err(AddressParseError::MissingPrefix));
        prop_assert_eq!(
            parse_checksummed_address(&format!("0X{}", &text[2..])),
            Err(AddressParseError::MissingPrefix)
        );
        prop_assert_eq!(parse_checksummed_address(&text[..2 + cut]), Err(AddressParseError::NotHex));
        prop_assert_eq!(
            parse_checksummed_address(&format!("{text}{}", &text[2..3 + cut])),
            Err(AddressParseError::NotHex)
        );
    }
}

// ---------------------------------------------------------------------------------------
// The whole API

/// The routes of SPEC §2.2–2.6, with the methods each accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Route {
    Connections,
    Connection,
    Plan,
    Address,
    Version,
    Status,
    Tokens,
    Token,
    Partners,
    Channels,
    ChannelsOf,
    Channel,
    Mint,
}

impl Route {
    const ALL: [Route; 13] = [
        Route::Connections,
        Route::Connection,
        Route::Plan,
        Route::Address,
        Route::Version,
        Route::Status,
        Route::Tokens,
        Route::Token,
        Route::Partners,
        Route::Channels,
        Route::ChannelsOf,
        Route::Channel,
        Route::Mint,
    ];

    fn path(self, a: &str, b: &str) -> String {
        match self {
            Route::Connections => "/api/v1/connections".into(),
            Route::Connection => format!("/api/v1/connections/{a}"),
            Route::Plan => format!("/api/v1/connections/{a}/plan"),
            Route::Address => "/api/v1/address".into(),
            Route::Version => "/api/v1/version".into(),
            Route::Status => "/api/v1/status".into(),
            Route::Tokens => "/api/v1/tokens".into(),
            Route::Token => format!("/api/v1/tokens/{a}"),
            Route::Partners => format!("/api/v1/tokens/{a}/partners"),
            Route::Channels => "/api/v1/channels".into(),
            Route::ChannelsOf => format!("/api/v1/channels/{a}"),
            Route::Channel => format!("/api/v1/channels/{a}/{b}"),
            Route::Mint => format!("/api/v1/_testing/tokens/{a}/mint"),
        }
    }

    /// How many address segments the path has.
    fn segments(self) -> usize {
        match self {
            Route::Connection
            | Route::Plan
            | Route::Token
            | Route::Partners
            | Route::ChannelsOf
            | Route::Mint => 1,
            Route::Channel => 2,
            _ => 0,
        }
    }

    fn methods(self) -> &'static [&'static str] {
        match self {
            Route::Connection => &["PUT", "DELETE", "GET"],
            Route::Plan => &["POST"],
            Route::Token => &["GET", "PUT"],
            Route::Mint => &["POST"],
            _ => &["GET"],
        }
    }

    /// Whether the route reads a body with `method`.
    fn reads_body(self, method: &str) -> bool {
        matches!(
            (self, method),
            (Route::Connection, "PUT") | (Route::Plan, "POST") | (Route::Mint, "POST")
        )
    }
}

/// An address segment, before the test token and our address are known.
#[derive(Clone, Debug)]
enum Segment {
    /// A valid address of no token.
    Unregistered(Address),
    /// The registered test token.
    TestToken,
    /// Our own address (valid, no token).
    Us,
    /// Text: junk or near-addresses.
    Text(String),
}

/// URI-safe junk for one path segment, never empty.
fn junk_segment() -> BoxedStrategy<String> {
    prop_oneof![
        "[A-Za-z0-9._~!$&'()*+,;=:@-]{1,60}",
        "(%[0-9A-Fa-f]{2}){1,20}",
        "([A-Za-z0-9]|%[0-9A-Fa-f]{2}){1,50}",
        Just("..".to_string()),
        Just("%00".to_string()),
        Just("%2F".to_string()),
    ]
    .prop_filter("URI-safe", |s| format!("/{s}").parse::<Uri>().is_ok())
    .boxed()
}

fn segment() -> BoxedStrategy<Segment> {
    prop_oneof![
        3 => address().prop_map(Segment::Unregistered),
        2 => Just(Segment::TestToken),
        1 => Just(Segment::Us),
        2 => near_address().prop_map(Segment::Text),
        2 => junk_segment().prop_map(Segment::Text),
    ]
    .boxed()
}

fn method() -> BoxedStrategy<String> {
    prop_oneof![
        6 => prop::sample::select(vec!["GET", "PUT", "POST", "DELETE"]).prop_map(String::from),
        2 => prop::sample::select(vec!["PATCH", "HEAD", "OPTIONS", "TRACE", "CONNECT"]).prop_map(String::from),
        1 => "[A-Za-z]{1,10}",
    ]
    .boxed()
}

fn content_type() -> BoxedStrategy<Option<String>> {
    prop_oneof![
        2 => Just(None),
        3 => Just(Some("application/json".to_string())),
        2 => prop::sample::select(vec![
            "text/plain", "application/json; charset=utf-8", "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x", "application/xml", "*/*", "",
        ])
        .prop_map(|t| Some(t.to_string())),
        1 => "[ -~]{0,40}".prop_map(Some),
    ]
    .boxed()
}

/// Bodies of every kind, from none to over the size limit.
fn request_body() -> BoxedStrategy<Option<Vec<u8>>> {
    let limit = MAX_BODY_BYTES as usize;
    prop_oneof![
        3 => Just(None),
        2 => prop::collection::vec(any::<u8>(), 0..256).prop_map(Some),
        3 => join_body().prop_map(|b| Some(b.body.into_bytes())),
        2 => mint_body().prop_map(|b| Some(b.body.into_bytes())),
        1 => broken_body().prop_map(|b| Some(b.into_bytes())),
        2 => json_value().prop_map(|v| Some(v.to_string().into_bytes())),
        // Around the limit: a valid body padded with whitespace.
        2 => (limit - 20..limit + 20).prop_map(|size| {
            let mut body = br#"{"funds": 1}"#.to_vec();
            body.resize(size, b' ');
            Some(body)
        }),
        2 => (limit + 1..4 * limit).prop_map(|size| Some(vec![b'a'; size])),
    ]
    .boxed()
}

/// One request: a known route with random segments, or a random path.
#[derive(Clone, Debug)]
struct RequestSpec {
    method: String,
    target: Target,
    query: Option<String>,
    content_type: Option<String>,
    body: Option<Vec<u8>>,
}

#[derive(Clone, Debug)]
enum Target {
    Route(Route, Segment, Segment),
    /// A path of known words and junk, never a valid address.
    Path(String),
}

fn random_path() -> BoxedStrategy<String> {
    let word = prop_oneof![
        3 => prop::sample::select(vec![
            "api", "v1", "v2", "connections", "tokens", "channels", "address", "version",
            "status", "partners", "_testing", "mint", "", "API", "connection",
        ])
        .prop_map(String::from),
        2 => junk_segment(),
        1 => near_address(),
    ];
    (
        prop::collection::vec(word, 0..7),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(words, api_prefix, trailing)| {
            let mut path = if api_prefix {
                "/api/v1".to_string()
            } else {
                String::new()
            };
            for word in words {
                path.push('/');
                path.push_str(&word);
            }
            if trailing || path.is_empty() {
                path.push('/');
            }
            path
        })
        .prop_filter("a valid URI", |path| path.parse::<Uri>().is_ok())
        .boxed()
}

fn request() -> BoxedStrategy<RequestSpec> {
    // Mostly a method the route accepts, so that requests get past the method check.
    let on_route = prop::sample::select(Route::ALL.to_vec()).prop_flat_map(|route| {
        let method = prop_oneof![
            3 => prop::sample::select(route.methods()).prop_map(String::from),
            1 => method(),
        ];
        (method, segment(), segment())
            .prop_map(move |(method, a, b)| (method, Target::Route(route, a, b)))
    });
    let target = prop_oneof![
        4 => on_route,
        1 => (method(), random_path()).prop_map(|(method, path)| (method, Target::Path(path))),
    ];
    (
        target,
        prop::option::weighted(0.1, "[A-Za-z0-9=&._-]{0,30}"),
        content_type(),
        request_body(),
    )
        .prop_map(
            |((method, target), query, content_type, body)| RequestSpec {
                method,
                target,
                query,
                content_type,
                body,
            },
        )
        .boxed()
}

/// What the node knows that the strategies do not.
struct World {
    token: Address,
    us: Address,
}

impl World {
    fn text(&self, segment: &Segment) -> String {
        match segment {
            Segment::Unregistered(a) => checksummed(a),
            Segment::TestToken => checksummed(&self.token),
            Segment::Us => checksummed(&self.us),
            Segment::Text(text) => text.clone(),
        }
    }
}

/// What a request must be answered with, beyond the rules every answer obeys.
#[derive(Debug)]
enum Expect {
    /// Only the general rules (a random path).
    Any,
    /// This status, and for an error a message containing this text.
    Status(StatusCode, String),
    /// The request would send a transaction (join, leave, registration, mint): left out,
    /// since on-chain work may legitimately fail with 500.
    Skip,
}

fn expect(spec: &RequestSpec, world: &World) -> Expect {
    let Target::Route(route, a, b) = &spec.target else {
        return Expect::Any;
    };
    let route = *route;
    let status = |code: StatusCode, needle: &str| Expect::Status(code, needle.to_string());
    if !route.methods().contains(&spec.method.as_str()) {
        return status(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed");
    }
    let body = spec.body.as_deref().unwrap_or_default();
    if route.reads_body(&spec.method) && body.len() as u64 > MAX_BODY_BYTES {
        return status(StatusCode::PAYLOAD_TOO_LARGE, "larger than");
    }
    let mut addresses = Vec::new();
    for segment in [a, b].into_iter().take(route.segments()) {
        match parse_checksummed_address(&world.text(segment)) {
            Ok(address) => addresses.push(address),
            Err(error) => return status(StatusCode::NOT_FOUND, reason(&error)),
        }
    }
    let is_token = addresses.first() == Some(&world.token);
    let refusal = |error: ApiError| status(StatusCode::CONFLICT, &error.to_string());
    match (route, spec.method.as_str()) {
        (Route::Connection, "PUT") => match join_params(body, StrategyKind::default()) {
            Err(error) => refusal(error),
            Ok(_) if is_token => Expect::Skip,
            Ok(_) => status(StatusCode::CONFLICT, "is not registered"),
        },
        // Nothing was ever joined.
        (Route::Connection, "GET") => status(StatusCode::NOT_FOUND, "is not joined"),
        // A plan sends nothing, so every one runs: the PUT's checks, then 200.
        (Route::Plan, _) => match join_params(body, StrategyKind::default()) {
            Err(error) => refusal(error),
            Ok(p) if is_token && p.funds > U256::from(NODE_TOKENS) => {
                status(StatusCode::CONFLICT, "Insufficient balance")
            }
            Ok(_) if is_token => status(StatusCode::OK, ""),
            Ok(_) => status(StatusCode::CONFLICT, "is not registered"),
        },
        (Route::Connection, _) if is_token => Expect::Skip,
        (Route::Connection, _) => status(StatusCode::CONFLICT, "is not registered"),
        (Route::Token, "PUT") if is_token => status(StatusCode::CONFLICT, "already registered"),
        (Route::Token, "PUT") => Expect::Skip,
        (Route::Token, _) if is_token => status(StatusCode::OK, ""),
        (Route::Token, _) => status(StatusCode::NOT_FOUND, "No token network"),
        (Route::Channel, _) => status(StatusCode::NOT_FOUND, "not found"),
        (Route::Mint, _) => match mint_request(body) {
            Err(error) => refusal(error),
            Ok(_) => Expect::Skip,
        },
        _ => status(StatusCode::OK, ""),
    }
}

/// Test tokens of the node the random requests go to.
const NODE_TOKENS: u32 = 1000;

/// SPEC §2.7.
const STATUSES: [u16; 11] = [200, 201, 204, 402, 404, 405, 408, 409, 413, 500, 503];

/// Random requests against one node on the simulated chain (one test token registered,
/// no channels): never a 500, every error a JSON `{"errors": "…"}` body, only SPEC §2.7's
/// codes, and the code and message the routes' rules give where the model knows them.
#[test]
fn no_request_makes_the_api_answer_500_or_without_an_error_body() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    let (net, node) = runtime.block_on(async {
        let net = TestNet::new();
        let account = net.account(U256::from(NODE_TOKENS));
        let node = net.node(account);
        node.wait_ready().await;
        (net, node)
    });
    let world = World {
        token: net.token,
        us: node.address(),
    };
    let routes = tokennet::api::routes(node.clone());

    let mut runner = TestRunner::new(Config {
        failure_persistence: None,
        ..Config::with_cases(2048)
    });
    // How often each status came back (and "skip"), to check that the requests reach
    // every kind of answer, not only 404s.
    let seen: RefCell<BTreeMap<String, usize>> = RefCell::default();
    let count = |what: String| *seen.borrow_mut().entry(what).or_default() += 1;
    let result = runner.run(&request(), |spec| {
        let expected = expect(&spec, &world);
        if matches!(expected, Expect::Skip) {
            count("skipped".into());
            return Ok(());
        }
        let mut path = match &spec.target {
            Target::Route(route, a, b) => route.path(&world.text(a), &world.text(b)),
            Target::Path(path) => path.clone(),
        };
        if let Some(query) = &spec.query {
            write!(path, "?{query}").unwrap();
        }
        let mut request = warp::test::request().method(&spec.method).path(&path);
        if let Some(content_type) = &spec.content_type {
            request = request.header("content-type", content_type.as_str());
        }
        if let Some(body) = &spec.body {
            request = request.body(body);
        }
        let response = runtime.block_on(request.reply(&routes));
        let status = response.status();
        count(status.as_u16().to_string());
        let text = String::from_utf8_lossy(response.body()).into_owned();
        let what = format!("{} {path} → {status} {text}", spec.method);

        prop_assert_ne!(status, StatusCode::INTERNAL_SERVER_ERROR, "{}", what);
        prop_assert!(
            STATUSES.contains(&status.as_u16()),
            "not a SPEC §2.7 code: {}",
            what
        );
        let message = if status.is_success() {
            if status != StatusCode::NO_CONTENT {
                prop_assert!(
                    serde_json::from_str::<Value>(&text).is_ok(),
                    "not JSON: {}",
                    what
                );
            }
            None
        } else {
            let content_type = response.headers().get("content-type").map(|v| v.as_bytes());
            prop_assert_eq!(content_type, Some(&b"application/json"[..]), "{}", what);
            let body: Result<Value, _> = serde_json::from_str(&text);
            let errors = body
                .as_ref()
                .ok()
                .and_then(|b| b.get("errors"))
                .and_then(Value::as_str);
            prop_assert!(
                errors.is_some_and(|e| !e.is_empty()),
                "no {{\"errors\": \"…\"}} body: {}",
                what
            );
            errors.map(str::to_string)
        };
        if let Expect::Status(code, needle) = &expected {
            prop_assert_eq!(status, *code, "{}", what);
            if let Some(message) = message {
                prop_assert!(
                    message.contains(needle.as_str()),
                    "expected {:?}: {}",
                    needle,
                    what
                );
            }
        }
        Ok(())
    });
    if let Err(error) = result {
        panic!("{error}");
    }
    let seen = seen.into_inner();
    println!("answers: {seen:?}");
    for status in ["200", "404", "405", "409", "413"] {
        assert!(
            seen.get(status).is_some_and(|n| *n >= 5),
            "too few {status}s: {seen:?}"
        );
    }
    // Nothing the requests did reached the chain: still no channel, no connection; in
    // particular no plan sent anything.
    let channels = runtime.block_on(common::call(&node, "GET", "/api/v1/channels", None));
    assert_eq!(channels.body, serde_json::json!([]));
}
