
use builtin;
use str;

set edit:completion:arg-completer[mwictl] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'mwictl'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'mwictl'= {
            cand --auth-server 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile'
            cand -i 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --identity 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --proxy 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)'
            cand --format 'Output format of the data written to stdout'
            cand --yes 'Answer yes to every confirmation (for scripts; no TTY needed)'
            cand -v 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Print only data and errors: no status lines or warnings on stderr'
            cand --quiet 'Print only data and errors: no status lines or warnings on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand lab 'Run the lab auth service, a Teleport-compatible auth service for rehearsal and tests'
            cand ping 'Check the connection to the auth service: cluster name, server version, and which address and identity were used (from flags or the saved profile)'
            cand get 'Print resources: every one of a kind, or one by name'
            cand completions 'Print the shell completion script for SHELL to stdout'
            cand generate-docs 'Write shell completions to DIR/completions and man pages to DIR/man'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mwictl;lab'= {
            cand --auth-server 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile'
            cand -i 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --identity 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --proxy 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)'
            cand --format 'Output format of the data written to stdout'
            cand --yes 'Answer yes to every confirmation (for scripts; no TTY needed)'
            cand -v 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Print only data and errors: no status lines or warnings on stderr'
            cand --quiet 'Print only data and errors: no status lines or warnings on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand start 'Run the lab auth service: a Teleport-compatible auth service for rehearsal and tests'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mwictl;lab;start'= {
            cand --data-dir 'Where the CA, the admin identity and the database live [default: $MWICTL_HOME/lab]'
            cand --listen 'Address to listen on; port 0 picks a free port'
            cand --cluster-name 'Cluster name, fixed on the first start [default: the stored name, else "lab"]'
            cand --lock-style 'What a bot''s certificate generation mismatch locks: the bot''s user (Teleport up to v18) or only the bot instance (newer Teleport)'
            cand --bot-ttl 'Lifetime of the certificates bots get, e.g. 1h or 20m'
            cand --auth-server 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile'
            cand -i 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --identity 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --proxy 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)'
            cand --format 'Output format of the data written to stdout'
            cand --yes 'Answer yes to every confirmation (for scripts; no TTY needed)'
            cand -v 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Print only data and errors: no status lines or warnings on stderr'
            cand --quiet 'Print only data and errors: no status lines or warnings on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mwictl;lab;help'= {
            cand start 'Run the lab auth service: a Teleport-compatible auth service for rehearsal and tests'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mwictl;lab;help;start'= {
        }
        &'mwictl;lab;help;help'= {
        }
        &'mwictl;ping'= {
            cand --auth-server 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile'
            cand -i 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --identity 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --proxy 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)'
            cand --format 'Output format of the data written to stdout'
            cand --yes 'Answer yes to every confirmation (for scripts; no TTY needed)'
            cand -v 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Print only data and errors: no status lines or warnings on stderr'
            cand --quiet 'Print only data and errors: no status lines or warnings on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mwictl;get'= {
            cand --auth-server 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile'
            cand -i 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --identity 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --proxy 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)'
            cand --format 'Output format of the data written to stdout'
            cand --yes 'Answer yes to every confirmation (for scripts; no TTY needed)'
            cand -v 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Print only data and errors: no status lines or warnings on stderr'
            cand --quiet 'Print only data and errors: no status lines or warnings on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mwictl;completions'= {
            cand --auth-server 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile'
            cand -i 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --identity 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --proxy 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)'
            cand --format 'Output format of the data written to stdout'
            cand --yes 'Answer yes to every confirmation (for scripts; no TTY needed)'
            cand -v 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Print only data and errors: no status lines or warnings on stderr'
            cand --quiet 'Print only data and errors: no status lines or warnings on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mwictl;generate-docs'= {
            cand --auth-server 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile'
            cand -i 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --identity 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile'
            cand --proxy 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)'
            cand --format 'Output format of the data written to stdout'
            cand --yes 'Answer yes to every confirmation (for scripts; no TTY needed)'
            cand -v 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Print only data and errors: no status lines or warnings on stderr'
            cand --quiet 'Print only data and errors: no status lines or warnings on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mwictl;help'= {
            cand lab 'Run the lab auth service, a Teleport-compatible auth service for rehearsal and tests'
            cand ping 'Check the connection to the auth service: cluster name, server version, and which address and identity were used (from flags or the saved profile)'
            cand get 'Print resources: every one of a kind, or one by name'
            cand completions 'Print the shell completion script for SHELL to stdout'
            cand generate-docs 'Write shell completions to DIR/completions and man pages to DIR/man'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mwictl;help;lab'= {
            cand start 'Run the lab auth service: a Teleport-compatible auth service for rehearsal and tests'
        }
        &'mwictl;help;lab;start'= {
        }
        &'mwictl;help;ping'= {
        }
        &'mwictl;help;get'= {
        }
        &'mwictl;help;completions'= {
        }
        &'mwictl;help;generate-docs'= {
        }
        &'mwictl;help;help'= {
        }
    ]
    $completions[$command]
}
