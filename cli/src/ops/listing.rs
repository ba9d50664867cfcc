//! Reading resources by reference (`lock`, `role/NAME`, `bot_instance/BOT/UUID`) and writing them
//! out page by page (each kind's row comes from `output`); `mwictl get` is built on it.

use crate::client::{Client, Fetched, Pager};
use crate::error::CommandError;
use crate::output::{ListWriter, Printer, headers};
use crate::resource::{Kind, Resource, ResourceRef};

/// Writes the resources `reference` names to stdout in the printer's format, a page at a time
/// (bot instances and roles are never all held in memory); returns how many there were. A named
/// resource that does not exist is a not-found error.
pub async fn write(
    client: &Client,
    reference: &ResourceRef,
    printer: &Printer,
) -> Result<usize, CommandError> {
    let mut out = ListWriter::new(printer, headers(reference.kind));
    match (&reference.kind, reference.name.as_deref()) {
        (Kind::Lock, Some(name)) => {
            out.page(&[Resource::Lock(client.get_lock(name).await?.value)])?
        }
        (Kind::Lock, None) => out.page(&resources(
            client.get_locks(vec![], false).await?,
            Resource::Lock,
        ))?,
        (Kind::Role, Some(name)) => {
            out.page(&[Resource::Role(client.get_role(name).await?.value)])?
        }
        (Kind::Role, None) => stream(client.roles(), Resource::Role, &mut out, printer).await?,
        (Kind::Token, Some(name)) => {
            out.page(&[Resource::Token(client.get_token(name).await?.value)])?
        }
        (Kind::Token, None) => out.page(&resources(client.get_tokens().await?, Resource::Token))?,
        (Kind::Bot, Some(name)) => out.page(&[Resource::Bot(client.get_bot(name).await?.value)])?,
        (Kind::Bot, None) => stream(client.bots(), Resource::Bot, &mut out, printer).await?,
        (Kind::BotInstance, Some(name)) => {
            let (bot, id) = name.rsplit_once('/').unwrap_or((name, ""));
            let instance = client.get_bot_instance(bot, id).await?.value;
            out.page(&[Resource::BotInstance(instance)])?
        }
        (Kind::BotInstance, None) => {
            stream(
                client.bot_instances(None),
                Resource::BotInstance,
                &mut out,
                printer,
            )
            .await?
        }
    }
    out.finish()
}

fn resources<T>(items: Vec<Fetched<T>>, wrap: fn(T) -> Resource) -> Vec<Resource> {
    items.into_iter().map(|f| wrap(f.value)).collect()
}

async fn stream<T: prost::Message + Default>(
    mut pager: Pager<'_, T>,
    wrap: fn(T) -> Resource,
    out: &mut ListWriter<'_>,
    printer: &Printer,
) -> Result<(), CommandError> {
    while let Some(page) = pager.next_page().await? {
        out.page(&resources(page, wrap))?;
        if printer.is_closed() {
            break;
        }
    }
    Ok(())
}
