//! Bot instances: paged listing (both ways, by bot), get, delete.

use mwi_proto::machineid::{
    DeleteBotInstanceRequest, GetBotInstanceRequest, ListBotInstancesRequest,
    ListBotInstancesV2Request, list_bot_instances_v2_request::Filters,
};
use tonic::Code;

use mwi_testkit::Lab;

async fn lab_with_instances(per_bot: &[(&str, usize)]) -> Lab {
    let lab = Lab::start().await;
    for (bot, count) in per_bot {
        lab.create_bot(bot, &[], &[]).await;
        for _ in 0..*count {
            lab.join_bot(&lab.bot_token(bot).await).await.unwrap();
        }
    }
    lab
}

fn key(i: &mwi_proto::machineid::BotInstance) -> String {
    let spec = i.spec.clone().unwrap();
    format!("{}/{}", spec.bot_name, spec.instance_id)
}

#[tokio::test]
async fn list_bot_instances_pages_through_one_bots_instances() {
    let lab = lab_with_instances(&[("a", 5), ("b", 2)]).await;
    let mut client = lab.instances().await;
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = client
            .list_bot_instances(ListBotInstancesRequest {
                filter_bot_name: "a".into(),
                page_size: 2,
                page_token: token.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert!(page.bot_instances.len() <= 2);
        seen.extend(page.bot_instances.iter().map(key));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(seen.len(), 5);
    assert!(seen.iter().all(|k| k.starts_with("a/")));
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted);
}

#[tokio::test]
async fn list_bot_instances_v2_sorts_descending_across_bots() {
    let lab = lab_with_instances(&[("a", 2), ("b", 2)]).await;
    let mut client = lab.instances().await;
    let first = client
        .list_bot_instances_v2(ListBotInstancesV2Request {
            page_size: 3,
            sort_desc: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let second = client
        .list_bot_instances_v2(ListBotInstancesV2Request {
            page_size: 3,
            sort_desc: true,
            page_token: first.next_page_token.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let all: Vec<String> = first
        .bot_instances
        .iter()
        .chain(&second.bot_instances)
        .map(key)
        .collect();
    assert_eq!(all.len(), 4);
    let mut sorted = all.clone();
    sorted.sort();
    sorted.reverse();
    assert_eq!(all, sorted);
    let only_b = client
        .list_bot_instances_v2(ListBotInstancesV2Request {
            filter: Some(Filters {
                bot_name: "b".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(only_b.bot_instances.len(), 2);
}

#[tokio::test]
async fn an_unsupported_sort_field_is_invalid() {
    let lab = Lab::start().await;
    let err = lab
        .instances()
        .await
        .list_bot_instances_v2(ListBotInstancesV2Request {
            sort_field: "host_name".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().contains(
            r#"use one of "bot_name", "active_at_latest", "version_latest", "host_name_latest""#
        ),
        "{}",
        err.message()
    );
}

#[tokio::test]
async fn a_query_is_evaluated_and_a_bad_one_is_invalid_with_its_position() {
    let lab = lab_with_instances(&[("a", 2), ("b", 1)]).await;
    let mut client = lab.instances().await;
    let list = |query: &str| ListBotInstancesV2Request {
        filter: Some(Filters {
            query: query.into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let found = client
        .list_bot_instances_v2(list(r#"spec.bot_name == "a" || contains(bot_name, "zz")"#))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(found.bot_instances.len(), 2);
    assert!(found.bot_instances.iter().all(|i| key(i).starts_with("a/")));
    let err = client
        .list_bot_instances_v2(list(r#"older_than(version, "18.0.0""#))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(
        err.message(),
        "parsing expression: 1:29: expected ')', found 'EOF'"
    );
}

#[tokio::test]
async fn delete_bot_instance_removes_it_and_a_missing_one_is_not_found() {
    let lab = lab_with_instances(&[("a", 1)]).await;
    let mut client = lab.instances().await;
    let list = client
        .list_bot_instances(ListBotInstancesRequest::default())
        .await
        .unwrap()
        .into_inner();
    let id = list.bot_instances[0].spec.clone().unwrap().instance_id;
    let req = || DeleteBotInstanceRequest {
        bot_name: "a".into(),
        instance_id: id.clone(),
    };
    client.delete_bot_instance(req()).await.unwrap();
    let err = client
        .get_bot_instance(GetBotInstanceRequest {
            bot_name: "a".into(),
            instance_id: id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert_eq!(err.message(), format!(r#"bot instance "a/{id}" not found"#));
    assert_eq!(
        client.delete_bot_instance(req()).await.unwrap_err().code(),
        Code::NotFound
    );
}

/// Instances written straight into the lab's database, as many as a big fleet leaves behind.
fn seed_instances(lab: &Lab, bots: usize, per_bot: usize) {
    use prost::Message;
    let mut db = rusqlite::Connection::open(lab.data_dir().join("lab.db")).unwrap();
    db.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
    let txn = db.transaction().unwrap();
    {
        let mut insert = txn
            .prepare("INSERT INTO resources (kind, name, value, revision) VALUES ('bot_instance', ?1, ?2, 'r')")
            .unwrap();
        for b in 0..bots {
            for i in 0..per_bot {
                let (bot, id) = (format!("bot{b:03}"), format!("{i:08}"));
                let instance = mwi_proto::machineid::BotInstance {
                    kind: "bot_instance".into(),
                    spec: Some(mwi_proto::machineid::BotInstanceSpec {
                        bot_name: bot.clone(),
                        instance_id: id.clone(),
                        ..Default::default()
                    }),
                    ..Default::default()
                };
                insert
                    .execute(rusqlite::params![
                        format!("{bot}/{id}"),
                        instance.encode_to_vec()
                    ])
                    .unwrap();
            }
        }
    }
    txn.commit().unwrap();
}

#[tokio::test]
async fn a_hundred_thousand_instances_list_page_by_page() {
    let lab = Lab::start().await;
    seed_instances(&lab, 100, 1000);
    let mut client = lab.instances().await;
    let (mut seen, mut pages, mut token) = (0usize, 0usize, String::new());
    loop {
        let page = client
            .list_bot_instances_v2(ListBotInstancesV2Request {
                page_size: 1000,
                page_token: token.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert!(page.bot_instances.len() <= 1000);
        seen += page.bot_instances.len();
        pages += 1;
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!((seen, pages), (100_000, 100));
    let one_bot = client
        .list_bot_instances(ListBotInstancesRequest {
            filter_bot_name: "bot042".into(),
            page_size: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(one_bot.bot_instances.len(), 1000);
    assert!(one_bot.next_page_token.is_empty());
}
