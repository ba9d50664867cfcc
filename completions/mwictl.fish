# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_mwictl_global_optspecs
    string join \n auth-server= i/identity= proxy= format= yes v/verbose q/quiet h/help V/version
end

function __fish_mwictl_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_mwictl_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_mwictl_using_subcommand
    set -l cmd (__fish_mwictl_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c mwictl -n "__fish_mwictl_needs_command" -l auth-server -d 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile' -r
complete -c mwictl -n "__fish_mwictl_needs_command" -s i -l identity -d 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile' -r -F
complete -c mwictl -n "__fish_mwictl_needs_command" -l proxy -d 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)' -r
complete -c mwictl -n "__fish_mwictl_needs_command" -l format -d 'Output format of the data written to stdout' -r -f -a "text\t'Tables and `key: value` lines for people'
json\t'JSON; a list is an array'
yaml\t'YAML; a list is one document per item, separated by `---`'"
complete -c mwictl -n "__fish_mwictl_needs_command" -l yes -d 'Answer yes to every confirmation (for scripts; no TTY needed)'
complete -c mwictl -n "__fish_mwictl_needs_command" -s v -l verbose -d 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
complete -c mwictl -n "__fish_mwictl_needs_command" -s q -l quiet -d 'Print only data and errors: no status lines or warnings on stderr'
complete -c mwictl -n "__fish_mwictl_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mwictl -n "__fish_mwictl_needs_command" -s V -l version -d 'Print version'
complete -c mwictl -n "__fish_mwictl_needs_command" -f -a "lab" -d 'Run the lab auth service, a Teleport-compatible auth service for rehearsal and tests'
complete -c mwictl -n "__fish_mwictl_needs_command" -f -a "ping" -d 'Check the connection to the auth service: cluster name, server version, and which address and identity were used (from flags or the saved profile)'
complete -c mwictl -n "__fish_mwictl_needs_command" -f -a "get" -d 'Print resources: every one of a kind, or one by name'
complete -c mwictl -n "__fish_mwictl_needs_command" -f -a "completions" -d 'Print the shell completion script for SHELL to stdout'
complete -c mwictl -n "__fish_mwictl_needs_command" -f -a "generate-docs" -d 'Write shell completions to DIR/completions and man pages to DIR/man'
complete -c mwictl -n "__fish_mwictl_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and not __fish_seen_subcommand_from start help" -l auth-server -d 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and not __fish_seen_subcommand_from start help" -s i -l identity -d 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and not __fish_seen_subcommand_from start help" -l proxy -d 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and not __fish_seen_subcommand_from start help" -l format -d 'Output format of the data written to stdout' -r -f -a "text\t'Tables and `key: value` lines for people'
json\t'JSON; a list is an array'
yaml\t'YAML; a list is one document per item, separated by `---`'"
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and not __fish_seen_subcommand_from start help" -l yes -d 'Answer yes to every confirmation (for scripts; no TTY needed)'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and not __fish_seen_subcommand_from start help" -s v -l verbose -d 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and not __fish_seen_subcommand_from start help" -s q -l quiet -d 'Print only data and errors: no status lines or warnings on stderr'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and not __fish_seen_subcommand_from start help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and not __fish_seen_subcommand_from start help" -s V -l version -d 'Print version'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and not __fish_seen_subcommand_from start help" -f -a "start" -d 'Run the lab auth service: a Teleport-compatible auth service for rehearsal and tests'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and not __fish_seen_subcommand_from start help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from start" -l data-dir -d 'Where the CA, the admin identity and the database live [default: $MWICTL_HOME/lab]' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from start" -l listen -d 'Address to listen on; port 0 picks a free port' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from start" -l cluster-name -d 'Cluster name, fixed on the first start [default: the stored name, else "lab"]' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from start" -l lock-style -d 'What a bot\'s certificate generation mismatch locks: the bot\'s user (Teleport up to v18) or only the bot instance (newer Teleport)' -r -f -a "user\t'Lock `user: bot-NAME` (Teleport v16–v18)'
instance\t'Lock `bot_instance_id` (newest Teleport)'"
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from start" -l bot-ttl -d 'Lifetime of the certificates bots get, e.g. 1h or 20m' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from start" -l auth-server -d 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from start" -s i -l identity -d 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from start" -l proxy -d 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from start" -l format -d 'Output format of the data written to stdout' -r -f -a "text\t'Tables and `key: value` lines for people'
json\t'JSON; a list is an array'
yaml\t'YAML; a list is one document per item, separated by `---`'"
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from start" -l yes -d 'Answer yes to every confirmation (for scripts; no TTY needed)'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from start" -s v -l verbose -d 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from start" -s q -l quiet -d 'Print only data and errors: no status lines or warnings on stderr'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from start" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from start" -s V -l version -d 'Print version'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from help" -f -a "start" -d 'Run the lab auth service: a Teleport-compatible auth service for rehearsal and tests'
complete -c mwictl -n "__fish_mwictl_using_subcommand lab; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mwictl -n "__fish_mwictl_using_subcommand ping" -l auth-server -d 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand ping" -s i -l identity -d 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand ping" -l proxy -d 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand ping" -l format -d 'Output format of the data written to stdout' -r -f -a "text\t'Tables and `key: value` lines for people'
json\t'JSON; a list is an array'
yaml\t'YAML; a list is one document per item, separated by `---`'"
complete -c mwictl -n "__fish_mwictl_using_subcommand ping" -l yes -d 'Answer yes to every confirmation (for scripts; no TTY needed)'
complete -c mwictl -n "__fish_mwictl_using_subcommand ping" -s v -l verbose -d 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
complete -c mwictl -n "__fish_mwictl_using_subcommand ping" -s q -l quiet -d 'Print only data and errors: no status lines or warnings on stderr'
complete -c mwictl -n "__fish_mwictl_using_subcommand ping" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mwictl -n "__fish_mwictl_using_subcommand ping" -s V -l version -d 'Print version'
complete -c mwictl -n "__fish_mwictl_using_subcommand get" -l auth-server -d 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand get" -s i -l identity -d 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand get" -l proxy -d 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand get" -l format -d 'Output format of the data written to stdout' -r -f -a "text\t'Tables and `key: value` lines for people'
json\t'JSON; a list is an array'
yaml\t'YAML; a list is one document per item, separated by `---`'"
complete -c mwictl -n "__fish_mwictl_using_subcommand get" -l yes -d 'Answer yes to every confirmation (for scripts; no TTY needed)'
complete -c mwictl -n "__fish_mwictl_using_subcommand get" -s v -l verbose -d 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
complete -c mwictl -n "__fish_mwictl_using_subcommand get" -s q -l quiet -d 'Print only data and errors: no status lines or warnings on stderr'
complete -c mwictl -n "__fish_mwictl_using_subcommand get" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mwictl -n "__fish_mwictl_using_subcommand get" -s V -l version -d 'Print version'
complete -c mwictl -n "__fish_mwictl_using_subcommand completions" -l auth-server -d 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand completions" -s i -l identity -d 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand completions" -l proxy -d 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand completions" -l format -d 'Output format of the data written to stdout' -r -f -a "text\t'Tables and `key: value` lines for people'
json\t'JSON; a list is an array'
yaml\t'YAML; a list is one document per item, separated by `---`'"
complete -c mwictl -n "__fish_mwictl_using_subcommand completions" -l yes -d 'Answer yes to every confirmation (for scripts; no TTY needed)'
complete -c mwictl -n "__fish_mwictl_using_subcommand completions" -s v -l verbose -d 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
complete -c mwictl -n "__fish_mwictl_using_subcommand completions" -s q -l quiet -d 'Print only data and errors: no status lines or warnings on stderr'
complete -c mwictl -n "__fish_mwictl_using_subcommand completions" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mwictl -n "__fish_mwictl_using_subcommand completions" -s V -l version -d 'Print version'
complete -c mwictl -n "__fish_mwictl_using_subcommand generate-docs" -l auth-server -d 'Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved profile' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand generate-docs" -s i -l identity -d 'Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved profile' -r -F
complete -c mwictl -n "__fish_mwictl_using_subcommand generate-docs" -l proxy -d 'Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over --auth-server)' -r
complete -c mwictl -n "__fish_mwictl_using_subcommand generate-docs" -l format -d 'Output format of the data written to stdout' -r -f -a "text\t'Tables and `key: value` lines for people'
json\t'JSON; a list is an array'
yaml\t'YAML; a list is one document per item, separated by `---`'"
complete -c mwictl -n "__fish_mwictl_using_subcommand generate-docs" -l yes -d 'Answer yes to every confirmation (for scripts; no TTY needed)'
complete -c mwictl -n "__fish_mwictl_using_subcommand generate-docs" -s v -l verbose -d 'Log what mwictl does to stderr (-v info, -vv debug, -vvv trace)'
complete -c mwictl -n "__fish_mwictl_using_subcommand generate-docs" -s q -l quiet -d 'Print only data and errors: no status lines or warnings on stderr'
complete -c mwictl -n "__fish_mwictl_using_subcommand generate-docs" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mwictl -n "__fish_mwictl_using_subcommand generate-docs" -s V -l version -d 'Print version'
complete -c mwictl -n "__fish_mwictl_using_subcommand help; and not __fish_seen_subcommand_from lab ping get completions generate-docs help" -f -a "lab" -d 'Run the lab auth service, a Teleport-compatible auth service for rehearsal and tests'
complete -c mwictl -n "__fish_mwictl_using_subcommand help; and not __fish_seen_subcommand_from lab ping get completions generate-docs help" -f -a "ping" -d 'Check the connection to the auth service: cluster name, server version, and which address and identity were used (from flags or the saved profile)'
complete -c mwictl -n "__fish_mwictl_using_subcommand help; and not __fish_seen_subcommand_from lab ping get completions generate-docs help" -f -a "get" -d 'Print resources: every one of a kind, or one by name'
complete -c mwictl -n "__fish_mwictl_using_subcommand help; and not __fish_seen_subcommand_from lab ping get completions generate-docs help" -f -a "completions" -d 'Print the shell completion script for SHELL to stdout'
complete -c mwictl -n "__fish_mwictl_using_subcommand help; and not __fish_seen_subcommand_from lab ping get completions generate-docs help" -f -a "generate-docs" -d 'Write shell completions to DIR/completions and man pages to DIR/man'
complete -c mwictl -n "__fish_mwictl_using_subcommand help; and not __fish_seen_subcommand_from lab ping get completions generate-docs help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mwictl -n "__fish_mwictl_using_subcommand help; and __fish_seen_subcommand_from lab" -f -a "start" -d 'Run the lab auth service: a Teleport-compatible auth service for rehearsal and tests'
