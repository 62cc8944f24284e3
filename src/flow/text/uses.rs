//! Every placeholder of a flow, and whether it is treated as a secret.

use super::{Text, Var, VarKind};

/// One placeholder of a flow, with what it is treated as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Use {
    /// The step using it.
    pub(crate) step: String,
    /// The option, e.g. `headers.Authorization`.
    pub(crate) option: String,
    /// The variable's name.
    pub(crate) name: String,
    /// How it is written.
    pub(crate) kind: VarKind,
    /// Whether its value is treated as a secret: every `${secret:…}`, and an `${env:…}`
    /// where credentials travel (see [`Use::implied`]).
    pub(crate) secret: bool,
    /// An `${env:…}` treated as a secret because of where it is used: an `http` step's
    /// `headers`, `query` or the user and password of its `url`, a `command`'s `env`.
    pub(crate) implied: bool,
}

impl crate::flow::Flow {
    /// Every placeholder of the flow, in file order, with what it is treated as.
    #[must_use]
    pub(crate) fn placeholders(&self) -> Vec<Use> {
        use crate::steps::Carries;
        let mut out = Vec::new();
        // `[notify]`'s webhook counts as a step named `notify` (its secrets are masked
        // like every other); the names of its command are data.
        let notify = self.notify.as_ref();
        let webhook = notify.and_then(|n| n.webhook.as_ref());
        let specs = self
            .steps
            .iter()
            .map(|s| (s.id.as_str(), &s.spec))
            .chain(webhook.map(|w| ("notify", w)));
        for (id, spec) in specs {
            let mut add = |option: &str, t: &Text, credential: &dyn Fn(&Var<'_>) -> bool| {
                for v in t.vars() {
                    let implied = v.kind == VarKind::Env && credential(&v);
                    out.push(Use {
                        step: id.to_owned(),
                        option: option.to_owned(),
                        name: v.name.to_owned(),
                        kind: v.kind,
                        secret: implied || v.kind == VarKind::Secret,
                        implied,
                    });
                }
            };
            spec.texts(&mut |option, t, carries| match carries {
                Carries::Data => add(option, t, &|_| false),
                Carries::Credentials => add(option, t, &|_| true),
                Carries::Url => {
                    let userinfo = userinfo_range(t.raw());
                    add(option, t, &|v| userinfo.contains(&v.offset));
                }
            });
        }
        for t in notify.map(|n| n.run.as_slice()).unwrap_or_default() {
            for v in t.vars() {
                out.push(Use {
                    step: "notify".to_owned(),
                    option: "run".to_owned(),
                    name: v.name.to_owned(),
                    kind: v.kind,
                    secret: v.kind == VarKind::Secret,
                    implied: false,
                });
            }
        }
        out
    }
}

/// Byte range of the `user:password` part of a URL (empty when it has none).
fn userinfo_range(url: &str) -> std::ops::Range<usize> {
    let Some(scheme) = url.find("://") else {
        return 0..0;
    };
    let start = scheme + 3;
    let authority = url[start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |e| start + e);
    match url[start..authority].rfind('@') {
        Some(at) => start..start + at,
        None => 0..0,
    }
}
