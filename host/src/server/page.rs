//! The status page: `GET /` and one page per item, server-rendered HTML
//! from a [`Snapshot`].
//!
//! | path | page |
//! |---|---|
//! | `/` | every item, failures first, and the latest events |
//! | `/KIND/NAME` | one item: `/kustomization/frontend`, `/image/flux-system:frontend`, `/plugin/stamp`, `/source/website`, `/automation/git` |
//! | `/events` | every event the board keeps, newest first |
//!
//! The HTML is written with **maud**: templates are Rust expressions checked
//! at compile time (a renamed field fails the build, not a page), every
//! `(value)` is HTML-escaped unless wrapped in `PreEscaped`, and it adds
//! three small crates (its proc macro and the diagnostics helper), where
//! askama brings a template parser and a second template language. No
//! JavaScript build and nothing fetched from the internet: the CSS and the
//! refresh script are inline, the script is optional (with JavaScript off a
//! `<meta http-equiv="refresh">` reloads the page) and its hash is the only
//! script the `Content-Security-Policy` allows.

use std::time::SystemTime;

use maud::{html, Markup, PreEscaped, DOCTYPE};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::status::{age, short_revision, until, Event, ItemStatus, Kind, Level, Snapshot, State};

/// The inline style sheet: light and dark, one column on a phone.
const CSS: &str = r#"
:root{--bg:#fff;--fg:#1b1f24;--mute:#57606a;--line:#d0d7de;--head:#f6f8fa;--link:#0550ae;
--failed:#b3261e;--waiting:#8a5a00;--pending:#57606a;--ready:#1a7f37;--suspended:#4d5ab0}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--mute:#9198a1;--line:#30363d;
--head:#161b22;--link:#79c0ff;--failed:#ff7b72;--waiting:#e3b341;--pending:#9198a1;--ready:#56d364;--suspended:#a5b4fc}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
a{color:var(--link)}
header,main,footer{max-width:72rem;margin:0 auto;padding:.75rem 1rem}
header{display:flex;flex-wrap:wrap;gap:.5rem 1.5rem;align-items:baseline;border-bottom:1px solid var(--line)}
header .brand{font-weight:700;font-size:1.15rem;margin:0}
header .brand span{font-weight:400;color:var(--mute);font-size:.85rem}
nav ul{display:flex;gap:1rem;list-style:none;margin:0;padding:0}
nav a[aria-current]{font-weight:700;text-decoration:none;color:var(--fg)}
.counts{margin:0 0 0 auto;display:flex;gap:.4rem;flex-wrap:wrap}
.skip{position:absolute;left:-999px}.skip:focus{left:1rem;top:.5rem;background:var(--bg);padding:.25rem}
h1{font-size:1.4rem;margin:.5rem 0 1rem;overflow-wrap:anywhere}
h2{font-size:1.1rem;margin:1.75rem 0 .5rem}
table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{text-align:left;vertical-align:baseline;padding:.4rem .5rem;border-bottom:1px solid var(--line)}
thead th{background:var(--head);font-weight:600;white-space:nowrap}
tbody th{font-weight:600;overflow-wrap:anywhere}
td.msg{overflow-wrap:anywhere;min-width:12rem}
code,pre,.rev{font:.85rem ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
pre{white-space:pre-wrap;overflow-wrap:anywhere;background:var(--head);padding:.5rem;border-radius:4px;margin:.25rem 0}
.badge{display:inline-block;padding:0 .45rem;border-radius:1rem;border:1px solid currentColor;font-size:.8rem;font-weight:600;white-space:nowrap}
.failed{color:var(--failed)}.waiting{color:var(--waiting)}.pending{color:var(--pending)}
.ready{color:var(--ready)}.suspended{color:var(--suspended)}.warning{color:var(--failed)}.info{color:var(--mute)}
.mute{color:var(--mute)}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem;margin:0}
dt{color:var(--mute)}dd{margin:0;overflow-wrap:anywhere}
ol.rank li.chosen{font-weight:700}
form.login{max-width:22rem;display:grid;gap:.5rem}
input,button{font:inherit;padding:.4rem .5rem}
footer{color:var(--mute);font-size:.8rem;border-top:1px solid var(--line);margin-top:2rem}
footer form{display:inline}
@media (max-width:40rem){
 table.items thead{position:absolute;left:-999px}
 table.items tr{display:block;border-bottom:1px solid var(--line);padding:.4rem 0}
 table.items th,table.items td{display:inline-block;border:0;padding:.1rem .25rem;margin-right:.5rem}
 table.items td.msg{display:block;min-width:0}
 table.items td[data-label]::before{content:attr(data-label) " ";color:var(--mute);font:.8rem system-ui,sans-serif}
 table.items td.nolabel::before{content:none}
 .counts{margin-left:0}
}
"#;

/// Refreshes the page in place every 5 s (keeps the scroll position; pauses
/// while the tab is hidden, text is selected or focus is in the content);
/// a redirect (to the login form) or an error status reloads the page.
const SCRIPT: &str = r#"(function(){var busy=0;setInterval(function(){
var m=document.querySelector('main');
if(busy||document.hidden||String(getSelection())||(m&&m.contains(document.activeElement)&&document.activeElement!==m))return;
busy=1;fetch(location.href,{cache:'no-store'}).then(function(r){
if(r.redirected||!r.ok){location.reload();return}
return r.text().then(function(t){var d=new DOMParser().parseFromString(t,'text/html');
document.title=d.title;var n=d.querySelector('main');if(m&&n)m.replaceWith(n);
var c=document.querySelector('.counts'),nc=d.querySelector('.counts');if(c&&nc)c.innerHTML=nc.innerHTML;});
}).catch(function(){}).then(function(){busy=0});},5000);})();"#;

/// How often the page reloads with JavaScript off.
const REFRESH_SECONDS: u32 = 15;
/// Events shown on the overview (all of them on `/events`).
const OVERVIEW_EVENTS: usize = 15;
/// Longest message shown in an item table's cell (item pages show errors in
/// full).
const MAX_CELL: usize = 300;
/// Longest message shown in an event row: 200 of them must stay well under
/// 100 KB.
const MAX_EVENT_CELL: usize = 160;

/// The `Content-Security-Policy` of every page: nothing but the page itself,
/// its inline style and its one script.
pub fn content_security_policy() -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    let hash = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(SCRIPT));
    format!(
        "default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-{hash}'; \
         connect-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; \
         base-uri 'none'"
    )
}

/// Which page of the navigation is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Current {
    Overview,
    Events,
    Other,
}

/// What a page needs besides the board.
#[derive(Debug, Clone, Copy)]
pub struct Chrome {
    /// The time pages are rendered at (ages and "next run" are relative to it).
    pub now: SystemTime,
    /// A token protects the pages: show "sign out".
    pub signed_in: bool,
}

/// `/`: every item by kind, failures first, and the latest events.
pub fn overview(snapshot: &Snapshot, chrome: Chrome) -> String {
    let tables: Vec<Markup> = Kind::ALL
        .into_iter()
        .map(|kind| (kind, sorted(snapshot, kind)))
        .filter(|(_, items)| !items.is_empty())
        .map(|(kind, items)| items_table(kind, &items, chrome.now))
        .collect();
    let body = html! {
        h1 { "Status" }
        @if !snapshot.ready {
            p .waiting { "rekon is starting: reading its sources and loading its plugins." }
        }
        @for table in &tables { (table) }
        @if tables.is_empty() {
            p { "No sources, kustomizations, images or plugins are configured." }
        }
        section aria-labelledby="events" {
            h2 #events { "Recent events" }
            (events_table(&snapshot.events[..snapshot.events.len().min(OVERVIEW_EVENTS)], chrome.now, true))
            @if snapshot.events.len() > OVERVIEW_EVENTS {
                p { a href="/events" { "All " (snapshot.events.len()) " events" } }
            }
        }
    };
    layout(snapshot, chrome, Current::Overview, None, body)
}

/// `/events`: every event the board keeps, newest first.
pub fn events(snapshot: &Snapshot, chrome: Chrome) -> String {
    let body = html! {
        h1 { "Events" }
        p .mute { "What rekon did, newest first; a repeated event is counted, not listed again." }
        (events_table(&snapshot.events, chrome.now, true))
    };
    layout(snapshot, chrome, Current::Events, Some("Events"), body)
}

/// `/KIND/NAME`: one item, or `None` when the board has no such item.
pub fn item(snapshot: &Snapshot, kind: Kind, name: &str, chrome: Chrome) -> Option<String> {
    let status = snapshot.items(kind).get(name)?;
    let now = chrome.now;
    let state = status.state();
    let own_events: Vec<Event> = snapshot
        .events
        .iter()
        .filter(|e| e.kind == kind && e.name == name)
        .cloned()
        .collect();
    let body = html! {
        h1 { (title_case(kind)) " " (name) " " (badge(state)) }
        dl {
            dt { "State" } dd { (state) }
            dt { "Revision" } dd .rev { (status.revision.as_deref().unwrap_or("-")) }
            dt { "Last run" } dd { (when(status.last_run.as_deref(), now))
                @if let Some(ms) = status.duration_ms { " (took " (ms) " ms)" } }
            dt { "Next run" } dd { (next(status, now)) }
            dt { "Message" } dd { (status.message) }
        }
        @match kind {
            Kind::Kustomization => (kustomization(snapshot, status, now)),
            Kind::Image => (image(status, now)),
            Kind::Plugin => (plugin(snapshot, name, status, now)),
            Kind::Source | Kind::Automation => {},
        }
        section aria-labelledby="errors" {
            h2 #errors { "Last errors" }
            @if status.errors.is_empty() {
                p .mute { "None since rekon started." }
            } @else {
                ol {
                    @for e in &status.errors {
                        li { (when(Some(&e.at), now)) pre { (e.message) } }
                    }
                }
            }
        }
        section aria-labelledby="item-events" {
            h2 #item-events { "Events" }
            (events_table(&own_events, now, false))
        }
    };
    Some(layout(
        snapshot,
        chrome,
        Current::Other,
        Some(&format!("{kind} {name}")),
        body,
    ))
}

/// `/login`: the token form; `failed` after a wrong token.
pub fn login(next: &str, failed: bool) -> String {
    let body = html! {
        h1 { "Sign in" }
        p { "This rekon requires its status token (" code { "[server] token-env" } " or "
            code { "token-file" } ")." }
        @if failed {
            p .failed role="alert" { "That token is not the one configured." }
        }
        form .login method="post" action="/login" {
            input type="hidden" name="next" value=(next);
            label for="token" { "Token" }
            input #token type="password" name="token" autocomplete="current-password" required autofocus;
            button type="submit" { "Sign in" }
        }
    };
    page("rekon: sign in", None, false, html! {}, body, html! {})
}

fn kustomization(snapshot: &Snapshot, status: &ItemStatus, now: SystemTime) -> Markup {
    let Some(k) = &status.kustomization else {
        return html! {};
    };
    html! {
        section aria-labelledby="config" {
            h2 #config { "Configuration" }
            dl {
                dt { "Source" } dd {
                    @match &k.source {
                        Some(s) => a href=(link(Kind::Source, s)) { (s) },
                        None => "the configuration's directory",
                    }
                }
                dt { "Path" } dd { code { (k.path) } }
                dt { "Depends on" } dd {
                    @if k.depends_on.is_empty() { "nothing" }
                    @for (i, dep) in k.depends_on.iter().enumerate() {
                        @if i > 0 { ", " }
                        a href=(link(Kind::Kustomization, dep)) { (dep) }
                        @if let Some(d) = snapshot.kustomizations.get(dep) { " " (badge(d.state())) }
                    }
                }
                dt { "Plugins" } dd {
                    @if k.plugins.is_empty() { "none" }
                    @for (i, p) in k.plugins.iter().enumerate() {
                        @if i > 0 { ", " }
                        a href=(link(Kind::Plugin, p)) { (p) }
                    }
                }
            }
        }
        section aria-labelledby="apply" {
            h2 #apply { "Last apply" }
            @match (&k.applied_at, &k.applied_revision) {
                (Some(at), Some(rev)) => p { "At " span .rev title=(rev) { (short_revision(rev)) } ", " (when(Some(at), now)) ": "
                    (k.objects.len()) " objects, " (k.pruned.len()) " pruned." },
                _ => p .mute { "Not applied since rekon started." },
            }
            @if !k.objects.is_empty() || !k.pruned.is_empty() {
                table {
                    thead { tr { th scope="col" { "Object" } th scope="col" { "Action" } } }
                    tbody {
                        @for o in &k.objects {
                            tr { th scope="row" { code { (o.object) } } td { (o.action) } }
                        }
                        @for o in &k.pruned {
                            tr { th scope="row" { code { (o.object) } } td { "pruned: " (o.action) } }
                        }
                    }
                }
            }
        }
        @if !k.helm_releases.is_empty() {
            section aria-labelledby="helm" {
                h2 #helm { "Helm releases" }
                p .mute { "Installed by k3s's helm-controller from the HelmCharts of the last apply." }
                table {
                    thead { tr {
                        th scope="col" { "Release" } th scope="col" { "Chart" }
                        th scope="col" { "Version" } th scope="col" { "State" }
                    } }
                    tbody {
                        @for r in &k.helm_releases {
                            tr {
                                th scope="row" { code { (r.release) } }
                                td { (r.chart) } td { (r.version) } td { (r.state) }
                            }
                        }
                    }
                }
            }
        }
        section aria-labelledby="changes" {
            h2 #changes { "Fields changed by plugins" }
            p .mute { "In the last successful render, as " code { "rekon render --explain" } " prints them." }
            @if k.changes.is_empty() {
                p { "None." }
            } @else {
                @if k.changes_total > k.changes.len() {
                    p { "The first " (k.changes.len()) " of " (k.changes_total) "." }
                }
                table {
                    thead { tr {
                        th scope="col" { "Plugin" } th scope="col" { "Object" } th scope="col" { "Field" }
                        th scope="col" { "Before" } th scope="col" { "After" }
                    } }
                    tbody {
                        @for c in &k.changes {
                            tr {
                                td { a href=(link(Kind::Plugin, &c.plugin)) { (c.plugin) } }
                                th scope="row" { code { (c.object) } }
                                td { code { (c.path) } }
                                td { code { (c.before) } }
                                td { code { (c.after) } }
                            }
                        }
                    }
                }
            }
            @if !k.findings.is_empty() {
                h3 { "Validator findings (not errors)" }
                ul { @for f in &k.findings { li { (f) } } }
            }
        }
    }
}

fn image(status: &ItemStatus, now: SystemTime) -> Markup {
    let Some(i) = &status.image else {
        return html! {};
    };
    html! {
        section aria-labelledby="scan" {
            h2 #scan { "Last scan" }
            dl {
                dt { "Repository" } dd { code { (i.repository) } }
                dt { "Policy" } dd { a href=(link(Kind::Plugin, &i.policy)) { (i.policy) } }
                dt { "Platform" } dd { (i.platform.as_deref().unwrap_or("any")) }
                dt { "Scanned" } dd { (when(i.scanned_at.as_deref(), now)) }
                dt { "Tags" } dd { (i.tags) " listed, " (i.excluded) " excluded"
                    @if i.stale { " (the stored list: the registry could not be read)" } }
                dt { "Chosen" } dd .rev { (i.chosen.as_deref().unwrap_or("none")) }
            }
            h3 { "Top of the ranking" }
            @if i.ranking.is_empty() {
                p .mute { "No ranking yet." }
            } @else {
                ol .rank {
                    @for tag in &i.ranking {
                        @let chosen = i.chosen.as_deref() == Some(tag.as_str());
                        @let skipped = i.skipped.iter().any(|s| &s.tag == tag);
                        li .chosen[chosen] {
                            code { (tag) }
                            @if chosen { " (chosen)" }
                            @if skipped { " " span .mute { "(skipped: platform)" } }
                        }
                    }
                }
            }
            h3 { "Skipped for their platform" }
            @if i.skipped.is_empty() {
                p { "None." }
            } @else {
                table {
                    thead { tr { th scope="col" { "Tag" } th scope="col" { "Offers" } } }
                    tbody {
                        @for s in &i.skipped {
                            tr { th scope="row" { code { (s.tag) } } td { (s.offered.join(", ")) } }
                        }
                    }
                }
            }
        }
        section aria-labelledby="commit" {
            h2 #commit { "Last commit" }
            @match &i.last_commit {
                None => p .mute { "Image automation has pushed no commit for it since rekon started." },
                Some(c) => {
                    p { span .rev title=(c.commit) { (short_revision(&c.commit)) } ", " (when(Some(&c.at), now)) }
                    ul { @for change in &c.changes { li { code { (change) } } } }
                }
            }
        }
    }
}

fn plugin(snapshot: &Snapshot, name: &str, status: &ItemStatus, now: SystemTime) -> Markup {
    let Some(p) = &status.plugin else {
        return html! {};
    };
    let users: Vec<(Kind, &String)> = snapshot
        .kustomizations
        .iter()
        .filter(|(_, k)| {
            k.kustomization
                .as_ref()
                .is_some_and(|d| d.plugins.iter().any(|p| p == name))
        })
        .map(|(n, _)| (Kind::Kustomization, n))
        .chain(
            snapshot
                .images
                .iter()
                .filter(|(_, i)| i.image.as_ref().is_some_and(|d| d.policy == name))
                .map(|(n, _)| (Kind::Image, n)),
        )
        .collect();
    html! {
        section aria-labelledby="plugin" {
            h2 #plugin { "Plugin" }
            dl {
                dt { "World" } dd { (p.world.as_deref().unwrap_or("not loaded")) }
                dt { "Capabilities" } dd {
                    @if p.capabilities.is_empty() { "none" } @else { (p.capabilities.join(", ")) }
                }
                dt { "Calls" } dd { (p.calls) }
                dt { "Traps" } dd { (p.traps) }
                dt { "Timeouts" } dd { (p.timeouts) }
                dt { "Used by" } dd {
                    @if users.is_empty() { "nothing" }
                    @for (i, (kind, user)) in users.iter().enumerate() {
                        @if i > 0 { ", " }
                        a href=(link(*kind, user)) { (kind) " " (user) }
                    }
                }
            }
        }
        section aria-labelledby="versions" {
            h2 #versions { "Versions seen" }
            @if p.versions.is_empty() {
                p .mute { "None yet." }
            } @else {
                table {
                    thead { tr {
                        th scope="col" { "sha256" } th scope="col" { "When" }
                        th scope="col" { "Outcome" } th scope="col" { "Why" }
                    } }
                    tbody {
                        @for v in &p.versions {
                            tr {
                                th scope="row" .rev title=(v.sha256) {
                                    @if v.sha256.is_empty() { "?" } @else { (short_revision(&v.sha256)) }
                                }
                                td { (when(Some(&v.at), now)) }
                                td { (v.outcome) }
                                td .msg { (v.reason.as_deref().unwrap_or("")) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// One table of the overview: the items of `kind`, already sorted.
fn items_table(kind: Kind, items: &[(&String, &ItemStatus)], now: SystemTime) -> Markup {
    let id = format!("{kind}s");
    html! {
        section aria-labelledby=(id) {
            h2 #(id) { (plural(kind)) }
            table .items {
                thead { tr {
                    th scope="col" { "Name" } th scope="col" { "State" } th scope="col" { "Revision" }
                    th scope="col" { "Last run" } th scope="col" { "Next run" } th scope="col" { "Message" }
                } }
                tbody {
                    @for (name, item) in items {
                        tr {
                            th scope="row" { a href=(link(kind, name)) { (name) } }
                            td data-label="State" .nolabel { (badge(item.state())) }
                            td data-label="Revision" {
                                span .rev title=[item.revision.as_deref()] {
                                    (item.revision.as_deref().map(short_revision).unwrap_or_else(|| "-".into()))
                                }
                            }
                            td data-label="Last run" { (when(item.last_run.as_deref(), now)) }
                            td data-label="Next run" { (next(item, now)) }
                            td data-label="Message" .msg { (cut(&item.message, MAX_CELL)) }
                        }
                    }
                }
            }
        }
    }
}

fn events_table(events: &[Event], now: SystemTime, with_item: bool) -> Markup {
    if events.is_empty() {
        return html! { p .mute { "None yet." } };
    }
    html! {
        table .items {
            thead { tr {
                th scope="col" { "When" }
                @if with_item { th scope="col" { "Item" } }
                th scope="col" { "Level" } th scope="col" { "Message" }
            } }
            tbody {
                @for e in events {
                    tr {
                        th scope="row" { time datetime=(e.at) { (age(&e.at, now)) } }
                        @if with_item {
                            td data-label="Item" { a href=(link(e.kind, &e.name)) { (e.kind) " " (e.name) } }
                        }
                        td data-label="Level" .nolabel .(level(e.level)) { (level(e.level)) }
                        td data-label="Message" .msg {
                            (cut(&e.message, MAX_EVENT_CELL))
                            @if e.count > 1 { " " span .mute { "(" (e.count) " times)" } }
                        }
                    }
                }
            }
        }
    }
}

/// The page around `body`: header with navigation and counts, footer.
fn layout(
    snapshot: &Snapshot,
    chrome: Chrome,
    current: Current,
    heading: Option<&str>,
    body: Markup,
) -> String {
    let counts = snapshot.counts();
    let summary = counts
        .iter()
        .map(|(state, n)| format!("{n} {state}"))
        .collect::<Vec<_>>()
        .join(", ");
    let title = match heading {
        Some(h) => format!("rekon: {summary} · {h}"),
        None if summary.is_empty() => "rekon".to_string(),
        None => format!("rekon: {summary}"),
    };
    let nav = |href: &str, label: &str, this: Current| {
        html! { li { a href=(href) aria-current=[(current == this).then_some("page")] { (label) } } }
    };
    let header = html! {
        nav aria-label="Pages" {
            ul {
                (nav("/", "Overview", Current::Overview))
                (nav("/events", "Events", Current::Events))
            }
        }
        p .counts aria-live="polite" aria-label="Items by state" {
            @for (state, n) in &counts { span .badge .(state) { (n) " " (state) } }
        }
    };
    let footer = html! {
        "rekon " (snapshot.version) ", started " (when(Some(&snapshot.started), chrome.now)) ". "
        a href="/status" { "JSON" } " · " a href="/metrics" { "metrics" }
        @if chrome.signed_in {
            " · "
            form method="post" action="/logout" { button type="submit" { "Sign out" } }
        }
    };
    page(&title, Some(REFRESH_SECONDS), true, header, body, footer)
}

fn page(
    title: &str,
    refresh: Option<u32>,
    script: bool,
    header: Markup,
    body: Markup,
    footer: Markup,
) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="color-scheme" content="light dark";
                title { (title) }
                @if let Some(seconds) = refresh {
                    noscript { meta http-equiv="refresh" content=(seconds); }
                }
                style { (PreEscaped(CSS)) }
            }
            body {
                a .skip href="#main" { "Skip to content" }
                header {
                    p .brand { a href="/" { "rekon" } }
                    (header)
                }
                main #main tabindex="-1" { (body) }
                footer { (footer) }
                @if script { script { (PreEscaped(SCRIPT)) } }
            }
        }
    }
    .into_string()
}

/// The items of `kind`, worst state first, then by name.
fn sorted(snapshot: &Snapshot, kind: Kind) -> Vec<(&String, &ItemStatus)> {
    let mut items: Vec<_> = snapshot.items(kind).iter().collect();
    items.sort_by_key(|(name, item)| (item.state(), *name));
    items
}

fn badge(state: State) -> Markup {
    html! { span .badge .(state) { (state) } }
}

fn level(level: Level) -> &'static str {
    match level {
        Level::Info => "info",
        Level::Warning => "warning",
    }
}

/// A time as "12s ago", with the exact time for those who hover or read it.
fn when(at: Option<&str>, now: SystemTime) -> Markup {
    match at {
        None => html! { "-" },
        Some(at) => html! { time datetime=(at) title=(at) { (age(at, now)) } },
    }
}

fn next(item: &ItemStatus, now: SystemTime) -> Markup {
    match (&item.next_run, item.suspended) {
        (_, true) => html! { "suspended" },
        (None, false) => html! { "-" },
        (Some(at), false) => html! { time datetime=(at) title=(at) { (until(at, now)) } },
    }
}

/// `text` cut to `max` characters.
fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

/// Characters escaped in a path segment: everything but letters, digits and
/// `-._~:` (a policy name's `:` reads better left alone).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b':');

/// The URL of an item's page.
pub fn link(kind: Kind, name: &str) -> String {
    format!("/{kind}/{}", utf8_percent_encode(name, SEGMENT))
}

/// The kind and name of an item page's path (`/kustomization/frontend`).
pub fn parse_link(path: &str) -> Option<(Kind, String)> {
    let (kind, name) = path.strip_prefix('/')?.split_once('/')?;
    let kind = Kind::ALL.into_iter().find(|k| k.to_string() == kind)?;
    let name = percent_encoding::percent_decode_str(name)
        .decode_utf8()
        .ok()?
        .into_owned();
    (!name.is_empty()).then_some((kind, name))
}

fn plural(kind: Kind) -> &'static str {
    match kind {
        Kind::Source => "Sources",
        Kind::Kustomization => "Kustomizations",
        Kind::Image => "Images",
        Kind::Plugin => "Plugins",
        Kind::Automation => "Image automation",
    }
}

fn title_case(kind: Kind) -> &'static str {
    match kind {
        Kind::Source => "Source",
        Kind::Kustomization => "Kustomization",
        Kind::Image => "Image",
        Kind::Plugin => "Plugin",
        Kind::Automation => "Automation",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::{
        FieldChanged, KustomizationDetail, Level, ObjectAction, StatusBoard, MAX_EVENTS,
    };

    fn chrome() -> Chrome {
        Chrome {
            now: SystemTime::now(),
            signed_in: false,
        }
    }

    fn board() -> StatusBoard {
        let board = StatusBoard::new();
        board.set_ready(true);
        board.register(Kind::Kustomization, "apps", false);
        board.update(Kind::Kustomization, "apps", |s| {
            s.ready = Some(true);
            s.message = "applied".into();
        });
        board.register(Kind::Kustomization, "broken", false);
        board.update(Kind::Kustomization, "broken", |s| {
            s.ready = Some(false);
            s.message = "denied: <script>alert(1)</script>".into();
            s.record_error(
                "2026-01-02T03:04:05Z".into(),
                "line one\n<b>line</b> two".into(),
            );
        });
        board.register(Kind::Kustomization, "later", true);
        board.register(Kind::Kustomization, "new", false);
        board.register(Kind::Source, "website", false);
        board.update(Kind::Source, "website", |s| s.ready = Some(true));
        board
    }

    #[test]
    fn failures_come_first_and_the_title_counts_states() {
        let html = overview(&board().snapshot(), chrome());
        assert!(
            html.contains("<title>rekon: 1 failed, 1 pending, 2 ready, 1 suspended</title>"),
            "{html}"
        );
        let at = |name: &str| {
            html.find(&format!(">{name}</a></th>"))
                .unwrap_or_else(|| panic!("{name} missing"))
        };
        assert!(at("broken") < at("new"));
        assert!(at("new") < at("apps"));
        assert!(at("apps") < at("later"));
        // Kustomizations come after sources, each kind in its own table.
        assert!(at("website") < at("broken"));
    }

    #[test]
    fn a_kustomization_page_lists_its_helm_releases() {
        let board = board();
        board.update(Kind::Kustomization, "apps", |s| {
            s.kustomization = Some(KustomizationDetail {
                helm_releases: vec![crate::status::HelmReleaseStatus {
                    release: "apps/podinfo".into(),
                    chart: "podinfo".into(),
                    version: "6.5.4".into(),
                    state: "failed: install Job apps/helm-install-podinfo failed: backoff".into(),
                }],
                ..Default::default()
            });
        });
        let page = item(&board.snapshot(), Kind::Kustomization, "apps", chrome()).unwrap();
        assert!(
            page.contains("<h2 id=\"helm\">Helm releases</h2>"),
            "{page}"
        );
        assert!(
            page.contains("<tr><th scope=\"row\"><code>apps/podinfo</code></th><td>podinfo</td><td>6.5.4</td><td>failed: install Job apps/helm-install-podinfo failed: backoff</td></tr>"),
            "{page}"
        );
        let other = item(&board.snapshot(), Kind::Kustomization, "broken", chrome()).unwrap();
        assert!(!other.contains("Helm releases"));
    }

    #[test]
    fn everything_dynamic_is_escaped() {
        let board = board();
        board.event(
            Level::Warning,
            Kind::Kustomization,
            "broken",
            "<script>alert(2)</script>",
        );
        board.register(Kind::Plugin, "<img src=x>", false);
        let snapshot = board.snapshot();
        for html in [
            overview(&snapshot, chrome()),
            events(&snapshot, chrome()),
            item(&snapshot, Kind::Kustomization, "broken", chrome()).unwrap(),
        ] {
            assert_eq!(
                html.matches("<script").count(),
                1,
                "only the page's own script: {html}"
            );
            assert!(!html.contains("<img"), "{html}");
            assert!(!html.contains("<b>"), "{html}");
        }
        let page = item(&snapshot, Kind::Kustomization, "broken", chrome()).unwrap();
        assert!(
            page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{page}"
        );
        assert!(
            page.contains("line one\n&lt;b&gt;line&lt;/b&gt; two"),
            "{page}"
        );
        let overview = overview(&snapshot, chrome());
        assert!(
            overview.contains("href=\"/plugin/%3Cimg%20src%3Dx%3E\""),
            "{overview}"
        );
        assert_eq!(
            parse_link("/plugin/%3Cimg%20src%3Dx%3E"),
            Some((Kind::Plugin, "<img src=x>".to_string()))
        );
        assert_eq!(
            parse_link(&link(Kind::Image, "flux-system:frontend")),
            Some((Kind::Image, "flux-system:frontend".to_string()))
        );
        assert_eq!(parse_link("/nothing/x"), None);
        assert_eq!(parse_link("/plugin/"), None);
        assert!(item(&snapshot, Kind::Image, "absent", chrome()).is_none());
        let login = login("/\"><script>", true);
        assert_eq!(login.matches("<script").count(), 0, "{login}");
    }

    #[test]
    fn pages_stay_under_100_kb_on_a_busy_board() {
        let board = StatusBoard::new();
        let long = "x ".repeat(2000);
        for i in 0..40 {
            let name = format!("kustomization-number-{i}");
            board.register(Kind::Kustomization, &name, false);
            board.update(Kind::Kustomization, &name, |s| {
                s.ready = Some(i % 3 != 0);
                s.revision = Some("0123456789abcdef0123456789abcdef01234567".into());
                s.last_run = Some("2026-01-02T03:04:05Z".into());
                s.next_run = Some("2026-01-02T03:09:05Z".into());
                s.message = long.clone();
                for _ in 0..10 {
                    s.record_error("2026-01-02T03:04:05Z".into(), "y".repeat(1000));
                }
                s.kustomization = Some(KustomizationDetail {
                    objects: (0..150)
                        .map(|o| ObjectAction {
                            object: format!("Deployment/website/frontend-{o}"),
                            action: "configured".into(),
                        })
                        .collect(),
                    changes: (0..crate::status::MAX_CHANGES)
                        .map(|c| FieldChanged {
                            plugin: "stamp".into(),
                            object: format!("Deployment/website/frontend-{c}"),
                            path: "metadata.annotations[\"rekon.dev/stamp\"]".into(),
                            before: "(absent)".into(),
                            after: "\"v2\"".into(),
                        })
                        .collect(),
                    ..Default::default()
                });
            });
        }
        for i in 0..MAX_EVENTS + 50 {
            board.event(
                Level::Warning,
                Kind::Kustomization,
                &format!("kustomization-number-{}", i % 40),
                &format!("{i} {long}"),
            );
        }
        let snapshot = board.snapshot();
        assert_eq!(snapshot.events.len(), MAX_EVENTS);
        for (what, html) in [
            ("overview", overview(&snapshot, chrome())),
            ("events", events(&snapshot, chrome())),
            (
                "item",
                item(
                    &snapshot,
                    Kind::Kustomization,
                    "kustomization-number-0",
                    chrome(),
                )
                .unwrap(),
            ),
        ] {
            assert!(html.len() < 100 * 1024, "{what}: {} bytes", html.len());
        }
    }
}
