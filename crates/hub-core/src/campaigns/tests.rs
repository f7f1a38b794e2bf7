//! Attribution on tests/fixtures/campaigns/analytics_js.jsonl (Segment events
//! as analytics.js, analytics-node and analytics-ios send them) with deals
//! created and won at known times. The story, in UTC:
//!
//! - Ada clicks a Google ad (spring-sale / google / cpc) on 1 March, browses
//!   untagged on 2 March, identifies on 5 March, clicks a newsletter link
//!   (march news / newsletter / email, URL only) on 10 March and a partner
//!   link with percent-encoded UTF-8 on 25 March. Her deal "Ada Pro" is
//!   created on 6 March and won on 20 March (EUR 1200.50); "Ada add-on" is
//!   created on 21 March and won on 22 March (EUR 99.99); "Ada support" is
//!   created on 26 March and stays open.
//! - Bob never clicks a tagged link; his deal (USD 500.10) is created on
//!   5 March and won on 15 March: direct/none.
//! - Cy clicks spring-sale at 23:59:59.999 on 31 March and identifies on
//!   1 April; his deal (GBP 300) is created on 2 April and won on 3 April.
//! - Anonymous visitors: x1 (spring-sale twice in March), x2 (the iOS app,
//!   context.campaign only, March), x3 (spring-sale at 00:00 on 1 April).

use std::path::{Path, PathBuf};
use std::str::FromStr;

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::*;
use crate::deals::{self, DealInput, DealStatus};
use crate::identity::lead_id;
use crate::money::Money;
use crate::{events, money};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/campaigns/analytics_js.jsonl")
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn date(s: &str) -> NaiveDate {
    NaiveDate::from_str(s).unwrap()
}

fn contact(user: &str) -> Uuid {
    lead_id("user_id", user)
}

struct Story {
    store: Store,
    ada_pro: Uuid,
    ada_addon: Uuid,
    ada_support: Uuid,
    bob: Uuid,
    cy: Uuid,
}

/// A deal for `contact` created at `created`, won at `won` if given.
async fn deal(
    store: &Store,
    title: &str,
    contact: Uuid,
    amount: &str,
    currency: &str,
    created: &str,
    won: Option<&str>,
) -> Uuid {
    let d = deals::create(
        store,
        DealInput {
            title: title.into(),
            contact_id: Some(contact),
            amount: Some(amount.into()),
            currency: Some(currency.into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    if won.is_some() {
        deals::close(store, d.summary.id, DealStatus::Won, None)
            .await
            .unwrap();
    }
    // Back-date the deal: the story happened in March.
    sqlx::query("UPDATE deals SET created_at = ?, closed_at = ? WHERE id = ?")
        .bind(created)
        .bind(won)
        .bind(d.summary.id.to_string())
        .execute(store.pool())
        .await
        .unwrap();
    d.summary.id
}

async fn story_on(store: Store) -> Story {
    money::set_base_currency(&store, "EUR").await.unwrap();
    money::set_rate(&store, "USD", "0.9").await.unwrap();
    money::set_rate(&store, "GBP", "1.15").await.unwrap();
    let ada = contact("usr_ada");
    let ada_pro = deal(
        &store,
        "Ada Pro",
        ada,
        "1200.50",
        "EUR",
        "2026-03-06T00:00:00.000Z",
        Some("2026-03-20T09:00:00.000Z"),
    )
    .await;
    let ada_addon = deal(
        &store,
        "Ada add-on",
        ada,
        "99.99",
        "EUR",
        "2026-03-21T00:00:00.000Z",
        Some("2026-03-22T00:00:00.000Z"),
    )
    .await;
    let ada_support = deal(
        &store,
        "Ada support",
        ada,
        "40",
        "EUR",
        "2026-03-26T00:00:00.000Z",
        None,
    )
    .await;
    let bob = deal(
        &store,
        "Bob",
        contact("usr_bob"),
        "500.10",
        "USD",
        "2026-03-05T00:00:00.000Z",
        Some("2026-03-15T00:00:00.000Z"),
    )
    .await;
    let cy = deal(
        &store,
        "Cy",
        contact("usr_cy"),
        "300",
        "GBP",
        "2026-04-02T00:00:00.000Z",
        Some("2026-04-03T00:00:00.000Z"),
    )
    .await;
    Story {
        store,
        ada_pro,
        ada_addon,
        ada_support,
        bob,
        cy,
    }
}

async fn story() -> Story {
    let store = Store::open_in_memory().await.unwrap();
    let report = events::import_file(&store, &fixture(), &mut |_, _| {})
        .await
        .unwrap();
    assert_eq!(report.failed, 0, "{:?}", report.errors);
    assert_eq!(report.stored.stored, 14);
    story_on(store).await
}

fn campaign_of(a: &Attribution) -> Option<&str> {
    a.touch().and_then(|t| t.campaign.as_deref())
}

#[tokio::test]
async fn contacts_first_and_last_touch_with_decoded_utm_values() {
    let s = story().await;
    let ada = contact_touches(&s.store, contact("usr_ada")).await.unwrap();
    assert_eq!(ada.count, 3, "{ada:#?}");
    let first = ada.first_touch.touch().unwrap();
    assert_eq!(
        (
            first.campaign.as_deref(),
            first.source.as_deref(),
            first.medium.as_deref()
        ),
        (Some("spring-sale"), Some("google"), Some("cpc"))
    );
    assert_eq!(first.term.as_deref(), Some("crm software"));
    assert_eq!(first.content.as_deref(), Some("ad-a"));
    assert_eq!(first.at.to_rfc3339(), "2026-03-01T10:00:00+00:00");
    // The anonymous page view before she identified is hers.
    assert_eq!(first.message_id, "ajs-next-1772500000002-a1d0c1b2");
    // URL only: '+' read as a space, the fragment cut off.
    let newsletter = &ada.touches[1];
    assert_eq!(newsletter.campaign.as_deref(), Some("march news"));
    assert_eq!(newsletter.source.as_deref(), Some("newsletter"));
    assert_eq!(newsletter.medium.as_deref(), Some("email"));
    // Percent-encoded UTF-8 decoded.
    let last = ada.last_touch.touch().unwrap();
    assert_eq!(last.campaign.as_deref(), Some("café déjà"));
    assert_eq!(last.source.as_deref(), Some("partner/blog"));
    assert_eq!(last.medium.as_deref(), Some("referral"));
    assert_eq!(last.label(), "café déjà / partner/blog / referral");

    let bob = contact_touches(&s.store, contact("usr_bob")).await.unwrap();
    assert_eq!(bob.count, 0);
    assert_eq!(bob.first_touch, Attribution::Direct);
    assert_eq!(bob.last_touch.label(), DIRECT);

    let cy = contact_touches(&s.store, contact("usr_cy")).await.unwrap();
    assert_eq!(campaign_of(&cy.first_touch), Some("spring-sale"));
    assert_eq!(cy.first_touch, cy.last_touch);

    let missing = contact_touches(&s.store, Uuid::now_v7()).await;
    assert!(matches!(missing, Err(Error::NotFound { .. })));
}

#[tokio::test]
async fn deals_first_touch_before_creation_last_touch_before_the_win() {
    let s = story().await;
    let pro = deal_touches(&s.store, s.ada_pro).await.unwrap();
    assert_eq!(campaign_of(&pro.first_touch), Some("spring-sale"));
    // The newsletter (10 March) is the last touch before the win (20 March);
    // the partner link of 25 March came after.
    assert_eq!(
        pro.last_touch.as_ref().and_then(campaign_of),
        Some("march news")
    );
    assert_eq!(
        pro.won_at.unwrap().to_rfc3339(),
        "2026-03-20T09:00:00+00:00"
    );

    let addon = deal_touches(&s.store, s.ada_addon).await.unwrap();
    assert_eq!(campaign_of(&addon.first_touch), Some("spring-sale"));
    assert_eq!(
        addon.last_touch.as_ref().and_then(campaign_of),
        Some("march news")
    );

    let open = deal_touches(&s.store, s.ada_support).await.unwrap();
    assert_eq!(campaign_of(&open.first_touch), Some("spring-sale"));
    assert_eq!(open.won_at, None);
    assert_eq!(open.last_touch, None);

    let bob = deal_touches(&s.store, s.bob).await.unwrap();
    assert_eq!(bob.first_touch, Attribution::Direct);
    assert_eq!(bob.last_touch, Some(Attribution::Direct));

    // Cy's click was anonymous; identify on 1 April made it his.
    let cy = deal_touches(&s.store, s.cy).await.unwrap();
    assert_eq!(campaign_of(&cy.first_touch), Some("spring-sale"));
    assert_eq!(
        cy.last_touch.as_ref().and_then(campaign_of),
        Some("spring-sale")
    );

    // A touch exactly at the creation time counts ("at or before").
    sqlx::query("UPDATE deals SET created_at = '2026-03-01T10:00:00.000Z' WHERE id = ?")
        .bind(s.ada_support.to_string())
        .execute(s.store.pool())
        .await
        .unwrap();
    let at = deal_touches(&s.store, s.ada_support).await.unwrap();
    assert_eq!(campaign_of(&at.first_touch), Some("spring-sale"));
    sqlx::query("UPDATE deals SET created_at = '2026-03-01T09:59:59.999Z' WHERE id = ?")
        .bind(s.ada_support.to_string())
        .execute(s.store.pool())
        .await
        .unwrap();
    let before = deal_touches(&s.store, s.ada_support).await.unwrap();
    assert_eq!(before.first_touch, Attribution::Direct);
}

fn row<'a>(report: &'a CampaignReport, label: &str) -> &'a CampaignRow {
    report
        .rows
        .iter()
        .find(|r| r.label == label)
        .unwrap_or_else(|| panic!("no row {label} in {report:#?}"))
}

const SPRING: &str = "spring-sale / google / cpc";
const NEWS: &str = "march news / newsletter / email";
const PARTNER: &str = "café déjà / partner/blog / referral";

#[tokio::test]
async fn the_march_report_counts_visitors_deals_and_exact_revenue() {
    let s = story().await;
    let march = ReportQuery {
        from: Some(date("2026-03-01")),
        to: Some(date("2026-03-31")),
        segment_id: None,
    };
    let r = report(&s.store, march).await.unwrap();
    assert_eq!(r.base_currency.as_deref(), Some("EUR"));
    assert!(r.missing_rates.is_empty());

    let spring = row(&r, SPRING);
    // Ada 1 Mar, x1 2 and 3 Mar, x2 (iOS) 15 Mar, Cy 23:59:59.999 on 31 Mar.
    assert_eq!(spring.touches, 5);
    assert_eq!(spring.contacts, Some(2)); // Ada and Cy
    assert_eq!(spring.anonymous, Some(2)); // x1 (once) and x2
    assert_eq!(spring.visitors, Some(4));
    assert_eq!(spring.deals, 3); // Ada's three deals, first touch
    assert_eq!(spring.won, 0); // Cy's win is in April
    assert!(spring.revenue.is_empty());
    assert_eq!(
        spring.revenue_base.as_ref().map(|m| m.amount),
        Some(Decimal::ZERO)
    );
    assert_eq!(spring.rates.visitor_to_contact, Some(dec("50.0")));
    assert_eq!(spring.rates.contact_to_deal, Some(dec("150.0")));
    assert_eq!(spring.rates.contact_to_won, Some(dec("0.0")));

    let news = row(&r, NEWS);
    assert_eq!(
        (news.touches, news.visitors, news.contacts, news.anonymous),
        (1, Some(1), Some(1), Some(0))
    );
    assert_eq!((news.deals, news.won), (0, 2));
    assert_eq!(
        news.revenue,
        vec![Money {
            amount: dec("1300.49"),
            currency: "EUR".into()
        }]
    );
    assert_eq!(news.revenue_base.as_ref().unwrap().amount, dec("1300.49"));
    assert_eq!(news.rates.contact_to_won, Some(dec("200.0")));

    let partner = row(&r, PARTNER);
    assert_eq!((partner.touches, partner.deals, partner.won), (1, 0, 0));

    let direct = row(&r, DIRECT);
    assert!(direct.direct);
    assert_eq!((direct.deals, direct.won, direct.visitors), (1, 1, None));
    assert_eq!(
        direct.revenue,
        vec![Money {
            amount: dec("500.10"),
            currency: "USD".into()
        }]
    );
    // 500.10 × 0.9, exact.
    assert_eq!(direct.revenue_base.as_ref().unwrap().amount, dec("450.09"));
    assert_eq!(direct.rates, ConversionRates::default());
    // Revenue first, direct/none last.
    assert_eq!(r.rows[0].label, NEWS);
    assert_eq!(r.rows.last().unwrap().label, DIRECT);
    assert_eq!(r.rows.len(), 4);
}

#[tokio::test]
async fn range_edges_are_whole_utc_days() {
    let s = story().await;
    // 1 April alone: x3's click at 00:00:00.000, Cy's deal is not created yet.
    let april_1 = report(
        &s.store,
        ReportQuery {
            from: Some(date("2026-04-01")),
            to: Some(date("2026-04-01")),
            segment_id: None,
        },
    )
    .await
    .unwrap();
    let spring = row(&april_1, SPRING);
    assert_eq!(
        (spring.touches, spring.anonymous, spring.contacts),
        (1, Some(1), Some(0))
    );
    assert_eq!((spring.deals, spring.won), (0, 0));
    assert_eq!(april_1.rows.len(), 1);

    // April: Cy's deal (created 2, won 3 April) is spring-sale's, in GBP.
    let april = report(
        &s.store,
        ReportQuery {
            from: Some(date("2026-04-01")),
            to: None,
            segment_id: None,
        },
    )
    .await
    .unwrap();
    let spring = row(&april, SPRING);
    assert_eq!((spring.deals, spring.won), (1, 1));
    assert_eq!(
        spring.revenue,
        vec![Money {
            amount: dec("300"),
            currency: "GBP".into()
        }]
    );
    assert_eq!(spring.revenue_base.as_ref().unwrap().amount, dec("345.00"));

    // 31 March alone: Cy's click in its last millisecond counts, x3's does not.
    let last_day = report(
        &s.store,
        ReportQuery {
            from: Some(date("2026-03-31")),
            to: Some(date("2026-03-31")),
            segment_id: None,
        },
    )
    .await
    .unwrap();
    let spring = row(&last_day, SPRING);
    assert_eq!(
        (spring.touches, spring.contacts, spring.anonymous),
        (1, Some(1), Some(0))
    );

    // All time: every deal once; revenue per currency and converted.
    let all = report(&s.store, ReportQuery::default()).await.unwrap();
    let spring = row(&all, SPRING);
    assert_eq!(
        (spring.touches, spring.visitors, spring.deals, spring.won),
        (6, Some(5), 4, 1)
    );
    let deals: u64 = all.rows.iter().map(|r| r.deals).sum();
    let won: u64 = all.rows.iter().map(|r| r.won).sum();
    assert_eq!((deals, won), (5, 4));
    let base: Decimal = all
        .rows
        .iter()
        .filter_map(|r| r.revenue_base.as_ref().map(|m| m.amount))
        .sum();
    assert_eq!(base, dec("1300.49") + dec("450.09") + dec("345.00"));

    // A range that ends before it starts is refused.
    let bad = report(
        &s.store,
        ReportQuery {
            from: Some(date("2026-04-02")),
            to: Some(date("2026-04-01")),
            segment_id: None,
        },
    )
    .await;
    assert!(matches!(bad, Err(Error::Validation(_))));
}

#[tokio::test]
async fn a_missing_rate_is_reported_not_guessed() {
    let s = story().await;
    money::delete_rate(&s.store, "USD").await.unwrap();
    let r = report(&s.store, ReportQuery::default()).await.unwrap();
    assert_eq!(r.missing_rates, vec!["USD".to_owned()]);
    let direct = row(&r, DIRECT);
    assert_eq!(direct.revenue_base, None);
    assert_eq!(direct.revenue[0].amount, dec("500.10"));
}

/// The same events one by one in reverse order (identifies before or after
/// the clicks, each its own transaction): the same touches and attribution.
#[tokio::test]
async fn events_in_any_order_give_the_same_attribution() {
    let store = Store::open_in_memory().await.unwrap();
    let text = std::fs::read_to_string(fixture()).unwrap();
    for line in text.lines().rev() {
        events::import_reader(&store, line.as_bytes(), &mut |_, _| {})
            .await
            .unwrap();
    }
    let s = story_on(store).await;
    let ada = contact_touches(&s.store, contact("usr_ada")).await.unwrap();
    assert_eq!(ada.count, 3);
    assert_eq!(campaign_of(&ada.first_touch), Some("spring-sale"));
    assert_eq!(campaign_of(&ada.last_touch), Some("café déjà"));
    let pro = deal_touches(&s.store, s.ada_pro).await.unwrap();
    assert_eq!(
        pro.last_touch.as_ref().and_then(campaign_of),
        Some("march news")
    );
    let r = report(&s.store, ReportQuery::default()).await.unwrap();
    let spring = row(&r, SPRING);
    assert_eq!(
        (spring.touches, spring.contacts, spring.anonymous),
        (6, Some(2), Some(3))
    );

    // The table kept by triggers equals a fresh derivation from the events.
    let kept: Vec<(i64, Option<i64>)> =
        sqlx::query_as("SELECT event_rk, contact_rk FROM campaign_touches ORDER BY 1")
            .fetch_all(s.store.pool())
            .await
            .unwrap();
    let fresh: Vec<(i64, Option<i64>)> =
        sqlx::query_as("SELECT rk, contact_rk FROM campaign_event_touches ORDER BY 1")
            .fetch_all(s.store.pool())
            .await
            .unwrap();
    assert_eq!(kept, fresh);
    assert_eq!(kept.len(), 8);
}

#[tokio::test]
async fn deleted_events_and_contacts_leave_the_touches() {
    let s = story().await;
    let before: i64 = sqlx::query_scalar("SELECT count(*) FROM campaign_touches")
        .fetch_one(s.store.pool())
        .await
        .unwrap();
    sqlx::query("DELETE FROM events WHERE message_id = 'ios-0001-x2'")
        .execute(s.store.pool())
        .await
        .unwrap();
    let after: i64 = sqlx::query_scalar("SELECT count(*) FROM campaign_touches")
        .fetch_one(s.store.pool())
        .await
        .unwrap();
    assert_eq!(after, before - 1);
    // A contact purged for good: its events are anonymous again (0018), so
    // are its touches.
    sqlx::query("DELETE FROM contacts WHERE id = ?")
        .bind(contact("usr_cy").to_string())
        .execute(s.store.pool())
        .await
        .unwrap();
    let cy_click: (Option<i64>,) = sqlx::query_as(
        "SELECT t.contact_rk FROM campaign_touches t JOIN events e ON e.rk = t.event_rk
          WHERE e.anonymous_id = 'c0c0c1b2-0000-4000-8000-00000000c0c0'",
    )
    .fetch_one(s.store.pool())
    .await
    .unwrap();
    assert_eq!(cy_click.0, None);
}

#[test]
fn query_values_decode_like_a_browser() {
    assert_eq!(decode_query_value("spring+sale"), "spring sale");
    assert_eq!(decode_query_value("caf%C3%A9"), "café");
    assert_eq!(decode_query_value("a%2Bb"), "a+b");
    assert_eq!(decode_query_value("50%25"), "50%");
    assert_eq!(decode_query_value("100%"), "100%");
    assert_eq!(decode_query_value("%zz%4"), "%zz%4");
    assert_eq!(decode_query_value("%E2%82"), "\u{FFFD}");
    assert_eq!(decode_query_value("%e2%82%ac"), "€");
}

/// SQL extraction of every UTM shape a URL can have, one event each.
#[tokio::test]
async fn utm_parameters_are_read_from_any_position_of_the_query() {
    let store = Store::open_in_memory().await.unwrap();
    type Want = Option<(&'static str, &'static str, &'static str)>;
    let cases: &[(&str, Want)] = &[
        ("https://a.example/?utm_campaign=x", Some(("x", "-", "-"))),
        (
            "https://a.example/p?ref=1&utm_source=fb&utm_medium=social",
            Some(("-", "fb", "social")),
        ),
        (
            "https://a.example/p?utm_campaign=a&utm_campaign=b",
            Some(("a", "-", "-")),
        ),
        ("https://a.example/p?xutm_campaign=no&q=1", None),
        ("https://a.example/p#?utm_campaign=in-fragment", None),
        ("https://a.example/p?utm_campaign=&utm_source=+", None),
        ("https://a.example/p?utm_term=only-a-term", None),
        ("https://a.example/p?utm_campaign=%20", None),
        ("https://a.example/p?UTM_CAMPAIGN=upper", None),
        (
            "https://a.example/p?utm_source=x%26y%3Dz&utm_campaign=b#frag",
            Some(("b", "x&y=z", "-")),
        ),
    ];
    let mut batch = Vec::new();
    for (i, (url, _)) in cases.iter().enumerate() {
        batch.push(
            serde_json::json!({
                "type": "page", "anonymousId": format!("anon-{i}"), "messageId": format!("m-{i}"),
                "timestamp": "2026-05-01T00:00:00Z", "properties": {"url": url}
            })
            .to_string(),
        );
    }
    events::import_reader(&store, batch.join("\n").as_bytes(), &mut |_, _| {})
        .await
        .unwrap();
    settle(&store).await.unwrap();
    for (i, (url, want)) in cases.iter().enumerate() {
        let got: Option<(Option<String>, Option<String>, Option<String>)> = sqlx::query_as(
            "SELECT t.campaign, t.source, t.medium FROM campaign_touches t
               JOIN events e ON e.rk = t.event_rk WHERE e.message_id = ?",
        )
        .bind(format!("m-{i}"))
        .fetch_optional(store.pool())
        .await
        .unwrap();
        let got = got.map(|(c, s, m)| {
            let d = |v: Option<String>| v.unwrap_or_else(|| "-".into());
            (d(c), d(s), d(m))
        });
        let want = want.map(|(c, s, m)| (c.to_owned(), s.to_owned(), m.to_owned()));
        assert_eq!(got, want, "{url}");
    }
}

/// Limited to a segment: only its members' touches and deals; no anonymous
/// audience (anonymous visitors are in no segment).
#[tokio::test]
async fn a_report_limited_to_a_segment_counts_its_members_only() {
    let s = story().await;
    let seg = crate::segments::create(
        &s.store,
        &crate::segments::SegmentInput {
            name: "Example.com people".into(),
            rule: serde_json::json!({"field": "email", "op": "contains", "value": "@example.com"}),
            triggers: None,
        },
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    assert_eq!(seg.size, 1); // Ada (Bob is example.net, Cy example.org)
    let r = report(
        &s.store,
        ReportQuery {
            segment_id: Some(seg.id),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(
        r.segment.as_ref().map(|g| g.name.as_str()),
        Some("Example.com people")
    );
    let spring = row(&r, SPRING);
    assert_eq!(
        (
            spring.touches,
            spring.visitors,
            spring.contacts,
            spring.anonymous
        ),
        (1, Some(1), Some(1), None)
    );
    assert_eq!((spring.deals, spring.won), (3, 0));
    let news = row(&r, NEWS);
    assert_eq!(news.revenue_base.as_ref().unwrap().amount, dec("1300.49"));
    // Bob's direct deal and Cy's spring-sale win are not members' deals.
    assert!(r.rows.iter().all(|row| !row.direct), "{r:#?}");
    assert_eq!(r.rows.len(), 3);

    let gone = report(
        &s.store,
        ReportQuery {
            segment_id: Some(Uuid::now_v7()),
            ..Default::default()
        },
    )
    .await;
    assert!(matches!(gone, Err(Error::NotFound { .. })));
}

mod invariants {
    use proptest::prelude::*;
    use serde_json::{json, Value};

    use super::*;

    /// A page, track or identify of one of a few people, at one of a few
    /// times, tagged in one of the ways real libraries tag (or not at all).
    fn call() -> impl Strategy<Value = Value> {
        (0..3usize, 0..3usize, 0..5usize, 0..4usize, 0..10i64).prop_map(
            |(kind, person, tag, user, minute)| {
                let anon = format!("anon-{person}");
                let ts = format!("2026-06-01T10:{minute:02}:00Z");
                let url = match tag {
                    1 => "https://a.example/?utm_source=google&utm_medium=cpc&utm_campaign=summer+sale",
                    2 => "https://a.example/p?x=1&utm_campaign=autumn#top",
                    _ => "https://a.example/plain",
                };
                let mut context = json!({"page": {"url": url}});
                if tag == 3 {
                    context["campaign"] = json!({"name": "winter", "source": "newsletter"});
                }
                if tag == 4 {
                    context["campaign"] = json!("not an object");
                }
                let user_id = (user < 2).then(|| format!("user-{user}"));
                match kind {
                    0 => json!({"type": "page", "anonymousId": anon, "userId": user_id,
                                "timestamp": ts, "context": context, "properties": {"url": url}}),
                    1 => json!({"type": "track", "event": "Clicked", "anonymousId": anon,
                                "timestamp": ts, "context": context}),
                    _ => json!({"type": "identify", "anonymousId": anon,
                                "userId": user_id.unwrap_or_else(|| "user-9".into()),
                                "timestamp": ts, "traits": {}}),
                }
            },
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

        /// Whatever the order and batching of the events, the touch table the
        /// triggers keep equals a fresh derivation from the stored events (the
        /// same view), with each touch's contact (or, while it has none, its
        /// anonymous id) as the events now say.
        #[test]
        fn kept_touches_equal_a_fresh_derivation(
            calls in proptest::collection::vec(call(), 1..25),
            split in 0..25usize,
        ) {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                let store = Store::open_in_memory().await.unwrap();
                let lines: Vec<String> = calls
                    .into_iter()
                    .enumerate()
                    .map(|(i, mut c)| {
                        c["messageId"] = json!(format!("m{i}"));
                        c.to_string()
                    })
                    .collect();
                let split = split.min(lines.len());
                for part in [&lines[..split], &lines[split..]] {
                    events::import_reader(&store, part.join("\n").as_bytes(), &mut |_, _| {})
                        .await
                        .unwrap();
                }
                type Row = (i64, Option<i64>, Option<String>, i64, Option<String>, Option<String>, Option<String>);
                let kept: Vec<Row> = sqlx::query_as(
                    "SELECT event_rk, contact_rk, anonymous_id, at_ms, campaign, source, medium
                       FROM campaign_touches ORDER BY 1",
                )
                .fetch_all(store.pool())
                .await
                .unwrap();
                let fresh: Vec<Row> = sqlx::query_as(
                    "SELECT rk, contact_rk, anonymous_id, at_ms, campaign, source, medium
                       FROM campaign_event_touches ORDER BY 1",
                )
                .fetch_all(store.pool())
                .await
                .unwrap();
                assert_eq!(&kept, &fresh);
                let events: Vec<(i64, Option<i64>, Option<String>)> =
                    sqlx::query_as("SELECT rk, contact_rk, anonymous_id FROM events")
                        .fetch_all(store.pool())
                        .await
                        .unwrap();
                for (rk, contact, anon, ..) in &kept {
                    let (_, e_contact, e_anon) = events.iter().find(|e| e.0 == *rk).unwrap();
                    assert_eq!(contact, e_contact);
                    assert_eq!(anon, &if e_contact.is_some() { None } else { e_anon.clone() });
                }
                // "summer sale" from the URL, '+' decoded in SQL.
                for (.., campaign, _, _) in &kept {
                    assert!(matches!(campaign.as_deref(), Some("summer sale" | "autumn" | "winter")), "{campaign:?}");
                }
            });
        }
    }
}
