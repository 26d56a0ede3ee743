//! The Devices tab's title and its own key bindings (its group in the help).

use ratatui::crossterm::event::KeyCode;

use crate::dashboard::keymap::{bind, Act, Group, Key, Scope};
use crate::dashboard::tab::Tab;
use crate::strings;

/// The tab's title.
pub const TITLE: &str = strings::TAB_DEVICES;
/// Where the tab's own bindings apply: while it is shown.
const HERE: Scope = Scope::Tab(Tab::Devices);
/// The tab's own bindings (its help group).
pub const KEYS: Group = Group {
    title: TITLE,
    bindings: &[
        bind(
            "/",
            "filter as you type",
            &[(HERE, Key::Char('/'), Act::StartFilter)],
        ),
        bind(
            "Enter, Esc",
            "keep / clear the filter",
            &[
                (Scope::Filter, Key::Code(KeyCode::Enter), Act::KeepFilter),
                (Scope::Filter, Key::Code(KeyCode::Esc), Act::ClearFilter),
                (HERE, Key::Code(KeyCode::Esc), Act::ClearFilter),
            ],
        ),
        bind(
            "s",
            "cycle the rollout state filter",
            &[(HERE, Key::Char('s'), Act::CycleState)],
        ),
        bind(
            "u",
            "unban the selected device",
            &[(HERE, Key::Char('u'), Act::Unban)],
        ),
        bind(
            "c",
            "confirm its held module job",
            &[(HERE, Key::Char('c'), Act::ConfirmJob)],
        ),
        bind(
            "C",
            "confirm every listed held job",
            &[(HERE, Key::Char('C'), Act::ConfirmListed)],
        ),
        bind(
            "n",
            "tell it to check now",
            &[(HERE, Key::Char('n'), Act::CheckNow)],
        ),
        bind(
            "x",
            "forget the device",
            &[(HERE, Key::Char('x'), Act::Forget)],
        ),
        bind(
            "m",
            "move it to another project",
            &[(HERE, Key::Char('m'), Act::Move)],
        ),
        bind(
            "a A",
            "cancel / uncancel its upgrade",
            &[
                (HERE, Key::Char('a'), Act::CancelUpgrade),
                (HERE, Key::Char('A'), Act::Uncancel),
            ],
        ),
    ],
};
