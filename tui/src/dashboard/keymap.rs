//! The one key table: every binding with the scope it works in and what it does. Key dispatch
//! (`lookup`) and the help overlay (`groups()` rendered as is) read this same table, so a key
//! that works is a key that is listed. The bindings of all tabs are here; each tab's own are in
//! its screen (`KEYS`), gathered through the registry.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::screens::TAB_KEYS;
use super::tab::Tab;

/// Where a binding applies: the innermost of these that is open gets the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Whatever is open, even a form or a filter being typed.
    Anywhere,
    /// Any tab, with no overlay open and no filter being typed.
    Global,
    /// One tab.
    Tab(Tab),
    /// While a list's filter is being typed.
    Filter,
    Form,
    Confirm,
    Help,
    /// The project list (switching projects, or moving a device).
    Picker,
}

/// A key as bindings name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// The character, without Ctrl.
    Char(char),
    /// The character with Ctrl.
    Ctrl(char),
    Code(KeyCode),
    /// Any of 1 to 9, without Ctrl.
    Digit,
}

impl Key {
    pub fn matches(self, event: &KeyEvent) -> bool {
        let ctrl = event.modifiers.contains(KeyModifiers::CONTROL);
        match (self, event.code) {
            (Key::Char(c), KeyCode::Char(got)) => c == got && !ctrl,
            (Key::Ctrl(c), KeyCode::Char(got)) => c == got && ctrl,
            (Key::Code(code), got) => code == got,
            (Key::Digit, KeyCode::Char('1'..='9')) => !ctrl,
            _ => false,
        }
    }
}

/// What a key does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    Quit,
    Help,
    CloseHelp,
    NextTab,
    PreviousTab,
    /// The tab numbered by the digit pressed.
    GoToTab,
    Refresh,
    Down,
    Up,
    PageDown,
    PageUp,
    First,
    Last,
    SwitchProject,
    EditProject,
    StartFilter,
    KeepFilter,
    ClearFilter,
    CycleState,
    Unban,
    ConfirmJob,
    ConfirmListed,
    CheckNow,
    Forget,
    Move,
    /// Leaves the selected device out of every plan's upgrade, or lets it back in.
    CancelUpgrade,
    Uncancel,
    /// Between the webhooks and the selected one's deliveries.
    SwitchFocus,
    Redeliver,
    Upload,
    Delete,
    NewPlan,
    EditPlan,
    Pause,
    Resume,
    Advance,
    Cancel,
    CheckNowPlan,
    NextField,
    PreviousField,
    NextChoice,
    PreviousChoice,
    ClearField,
    Submit,
    Dismiss,
    Yes,
    No,
    Pick,
}

/// One line of the help: the keys as shown, what they do, and each key's scope and act.
#[derive(Debug)]
pub struct Binding {
    pub keys: &'static str,
    pub about: &'static str,
    pub map: &'static [(Scope, Key, Act)],
}

#[derive(Debug)]
pub struct Group {
    pub title: &'static str,
    pub bindings: &'static [Binding],
}

pub const fn bind(
    keys: &'static str,
    about: &'static str,
    map: &'static [(Scope, Key, Act)],
) -> Binding {
    Binding { keys, about, map }
}

use Act::*;
use Key::{Char, Code, Ctrl, Digit};
use Scope::{Anywhere, Confirm, Form, Global, Help as HelpOverlay, Picker};

/// The bindings of every tab, and of the project picker and help.
pub const EVERYWHERE: Group = Group {
    title: "Everywhere",
    bindings: &[
        bind(
            "?",
            "show or hide this help",
            &[
                (Global, Char('?'), Help),
                (HelpOverlay, Char('?'), CloseHelp),
                (HelpOverlay, Char('q'), CloseHelp),
                (HelpOverlay, Code(KeyCode::Esc), CloseHelp),
                (HelpOverlay, Code(KeyCode::Enter), CloseHelp),
            ],
        ),
        bind(
            "q, Ctrl-C",
            "quit",
            &[(Global, Char('q'), Quit), (Anywhere, Ctrl('c'), Quit)],
        ),
        bind(
            "Tab, Shift-Tab",
            "next / previous tab",
            &[
                (Global, Code(KeyCode::Tab), NextTab),
                (Global, Code(KeyCode::BackTab), PreviousTab),
            ],
        ),
        bind(
            "1 … 7",
            "go to a tab by its number",
            &[(Global, Digit, GoToTab)],
        ),
        bind(
            "h l, ← →",
            "previous / next tab",
            &[
                (Global, Char('h'), PreviousTab),
                (Global, Char('l'), NextTab),
                (Global, Code(KeyCode::Left), PreviousTab),
                (Global, Code(KeyCode::Right), NextTab),
            ],
        ),
        bind(
            "j k, ↓ ↑",
            "move the selection",
            &[
                (Global, Char('j'), Down),
                (Global, Char('k'), Up),
                (Global, Code(KeyCode::Down), Down),
                (Global, Code(KeyCode::Up), Up),
                (Picker, Char('j'), Down),
                (Picker, Char('k'), Up),
                (Picker, Code(KeyCode::Down), Down),
                (Picker, Code(KeyCode::Up), Up),
            ],
        ),
        bind(
            "g G, Home End",
            "first / last row",
            &[
                (Global, Char('g'), First),
                (Global, Char('G'), Last),
                (Global, Code(KeyCode::Home), First),
                (Global, Code(KeyCode::End), Last),
            ],
        ),
        bind(
            "PgUp PgDn",
            "move by a page",
            &[
                (Global, Code(KeyCode::PageUp), PageUp),
                (Global, Code(KeyCode::PageDown), PageDown),
            ],
        ),
        bind("r", "refresh now", &[(Global, Char('r'), Refresh)]),
        bind(
            "P",
            "switch project",
            &[
                (Global, Char('P'), SwitchProject),
                (Picker, Code(KeyCode::Enter), Pick),
                (Picker, Code(KeyCode::Esc), Dismiss),
            ],
        ),
        bind(
            "E",
            "edit project, device policy",
            &[(Global, Char('E'), EditProject)],
        ),
    ],
};

/// The bindings of forms and confirmations.
pub const FORMS: Group = Group {
    title: "Forms and prompts",
    bindings: &[
        bind(
            "Tab, ↓",
            "next field",
            &[
                (Form, Code(KeyCode::Tab), NextField),
                (Form, Code(KeyCode::Down), NextField),
            ],
        ),
        bind(
            "Shift-Tab, ↑",
            "previous field",
            &[
                (Form, Code(KeyCode::BackTab), PreviousField),
                (Form, Code(KeyCode::Up), PreviousField),
            ],
        ),
        bind(
            "Space, ← →",
            "toggle a choice",
            &[
                (Form, Char(' '), NextChoice),
                (Form, Code(KeyCode::Right), NextChoice),
                (Form, Code(KeyCode::Left), PreviousChoice),
            ],
        ),
        bind(
            "Ctrl-U",
            "clear the field",
            &[(Form, Ctrl('u'), ClearField)],
        ),
        bind("Enter", "save", &[(Form, Code(KeyCode::Enter), Submit)]),
        bind("Esc", "cancel", &[(Form, Code(KeyCode::Esc), Dismiss)]),
        bind(
            "y / n",
            "answer a confirmation",
            &[
                (Confirm, Char('y'), Yes),
                (Confirm, Char('Y'), Yes),
                (Confirm, Code(KeyCode::Enter), Yes),
                (Confirm, Char('n'), No),
                (Confirm, Char('N'), No),
                (Confirm, Code(KeyCode::Esc), No),
            ],
        ),
    ],
};

/// Every key binding, grouped by where it applies: everywhere, then each tab's own (its
/// screen's `KEYS`, in tab order; a tab without keys has no group), then forms and prompts.
/// The help overlay renders exactly these groups, and `lookup` reads them.
pub fn groups() -> Vec<&'static Group> {
    let tabs = TAB_KEYS.iter().copied().filter(|g| !g.bindings.is_empty());
    std::iter::once(&EVERYWHERE)
        .chain(tabs)
        .chain(std::iter::once(&FORMS))
        .collect()
}

/// What `key` does on `tab` with no overlay open: the tab's own binding first (the innermost
/// scope wins, so a tab may give a global key another meaning), else the global one.
pub fn lookup_on_tab(tab: Tab, key: &KeyEvent) -> Option<Act> {
    lookup(Scope::Tab(tab), key).or_else(|| lookup(Scope::Global, key))
}

/// What `key` does in `scope`, if anything.
pub fn lookup(scope: Scope, key: &KeyEvent) -> Option<Act> {
    groups()
        .into_iter()
        .flat_map(|group| group.bindings)
        .flat_map(|binding| binding.map)
        .find(|(s, k, _)| *s == scope && k.matches(key))
        .map(|(_, _, act)| *act)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEVICES: Scope = Scope::Tab(Tab::Devices);
    const FIRMWARE: Scope = Scope::Tab(Tab::Firmware);
    const ROLLOUTS: Scope = Scope::Tab(Tab::Rollouts);

    fn key(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    #[track_caller]
    fn check(scope: Scope, code: KeyCode, modifiers: KeyModifiers, expect: Option<Act>) {
        assert_eq!(
            lookup(scope, &key(code, modifiers)),
            expect,
            "{scope:?} {code:?}"
        );
    }

    #[test]
    fn keys_resolve_in_their_scope_only() {
        let none = KeyModifiers::NONE;
        check(Global, KeyCode::Char('q'), none, Some(Quit));
        check(
            Anywhere,
            KeyCode::Char('c'),
            KeyModifiers::CONTROL,
            Some(Quit),
        );
        check(Global, KeyCode::Char('c'), KeyModifiers::CONTROL, None);
        check(Global, KeyCode::Char('3'), none, Some(GoToTab));
        check(Global, KeyCode::Char('0'), none, None);
        check(
            Global,
            KeyCode::Char('P'),
            KeyModifiers::SHIFT,
            Some(SwitchProject),
        );
        check(DEVICES, KeyCode::Char('u'), none, Some(Unban));
        check(ROLLOUTS, KeyCode::Char('u'), none, Some(Resume));
        check(FIRMWARE, KeyCode::Char('u'), none, Some(Upload));
        check(DEVICES, KeyCode::Char('x'), none, Some(Forget));
        check(DEVICES, KeyCode::Char('m'), none, Some(Move));
        check(
            Form,
            KeyCode::Char('u'),
            KeyModifiers::CONTROL,
            Some(ClearField),
        );
        check(Form, KeyCode::Char('u'), none, None);
        check(Confirm, KeyCode::Char('Y'), KeyModifiers::SHIFT, Some(Yes));
        check(Picker, KeyCode::Enter, none, Some(Pick));
        check(DEVICES, KeyCode::Char('a'), none, Some(CancelUpgrade));
        check(DEVICES, KeyCode::Char('A'), none, Some(Uncancel));
    }

    /// On the Webhooks tab `r` redelivers and `R` refreshes; elsewhere `r` still refreshes.
    #[test]
    fn a_tab_binding_wins_over_the_global_one() {
        let r = key(KeyCode::Char('r'), KeyModifiers::NONE);
        let shift_r = key(KeyCode::Char('R'), KeyModifiers::SHIFT);
        assert_eq!(lookup_on_tab(Tab::Webhooks, &r), Some(Redeliver));
        assert_eq!(lookup_on_tab(Tab::Webhooks, &shift_r), Some(Refresh));
        assert_eq!(lookup_on_tab(Tab::Devices, &r), Some(Refresh));
        assert_eq!(lookup_on_tab(Tab::Devices, &shift_r), None);
        assert_eq!(lookup_on_tab(Tab::Events, &r), Some(Refresh));
    }

    /// No key means two things in one scope: the first row would win silently.
    #[test]
    fn no_key_is_bound_twice_in_a_scope() {
        let all: Vec<&(Scope, Key, Act)> = groups()
            .into_iter()
            .flat_map(|g| g.bindings)
            .flat_map(|b| b.map)
            .collect();
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                assert!(
                    !(a.0 == b.0 && a.1 == b.1),
                    "{:?} {:?} is bound twice",
                    a.0,
                    a.1
                );
            }
        }
    }
}
