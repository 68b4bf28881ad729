%% Asks Erlang/OTP's own supervisor what it does in the scenarios test/core/otp.test.ts
%% replays on bosun's Supervisor, and prints one event a line: `start w1`, `startfail w1`,
%% `stop w2` (stopped by its supervisor), `crash w1`, `result ...`, `children ...`.
%%   erlc -o OUT sup_trace.erl && erl -noshell -pa OUT -eval 'sup_trace:main([restfail, transient])' -s init stop
-module(sup_trace).
-behaviour(supervisor).
-export([main/1, init/1, start_worker/2, start_sup/1]).

log(Fmt, Args) -> io:format(Fmt ++ "~n", Args).

%% A worker child: fails to start on the attempts listed in FailOn (counted per id), else
%% runs until told to crash or until its supervisor stops it.
start_worker(Id, FailOn) ->
    N = ets:update_counter(attempts, Id, 1, {Id, 0}),
    case lists:member(N, FailOn) of
        true ->
            log("startfail ~s", [Id]),
            {error, {startfail, Id}};
        false ->
            Parent = self(),
            Pid = spawn_link(fun() ->
                process_flag(trap_exit, true),
                register(Id, self()),
                loop(Id, Parent)
            end),
            log("start ~s", [Id]),
            {ok, Pid}
    end.

loop(Id, Parent) ->
    receive
        crash ->
            log("crash ~s", [Id]),
            exit(crash);
        {'EXIT', Parent, Reason} ->
            log("stop ~s", [Id]),
            exit(Reason)
    end.

start_sup(Args) -> supervisor:start_link(?MODULE, Args).

worker(Id, Restart, FailOn) ->
    #{id => Id, start => {?MODULE, start_worker, [Id, FailOn]}, restart => Restart, shutdown => 5000, type => worker}.

sup(Id, Restart, Args, Significant) ->
    #{id => Id, start => {?MODULE, start_sup, [Args]}, restart => Restart, shutdown => infinity,
      type => supervisor, significant => Significant}.

init({Flags, Children}) -> {ok, {Flags, Children}}.

flags(Strategy, Intensity) -> #{strategy => Strategy, intensity => Intensity, period => 5}.

children(Sup) ->
    Ids = [io_lib:format("~s:~s", [Id, case Pid of undefined -> "stopped"; _ when is_pid(Pid) -> "running"; _ -> "restarting" end])
           || {Id, Pid, _, _} <- lists:reverse(supervisor:which_children(Sup))],
    log("children ~s", [lists:join(" ", Ids)]).

settle() -> timer:sleep(100).

%% Runs each scenario in a fresh process, then stops its supervisor (the trace shows the
%% stops, in OTP's order) unless it already exited.
main(Scenarios) ->
    ets:new(attempts, [named_table, public]),
    [begin
         ets:delete_all_objects(attempts),
         log("scenario ~s", [S]),
         Self = self(),
         P = spawn(fun() -> process_flag(trap_exit, true), Self ! {done, self(), shut(run(S))} end),
         receive {done, P, ok} -> ok after 5000 -> log("timeout", []) end
     end || S <- Scenarios],
    ok.

shut(exited) -> ok;
shut(Sup) ->
    exit(Sup, shutdown),
    receive {'EXIT', Sup, _} -> ok end.

%% rest_for_one [w1, w2]: w1 crashes and its restart fails once.
run(restfail) ->
    {ok, Sup} = start_sup({flags(rest_for_one, 10), [worker(w1, permanent, [2]), worker(w2, permanent, [])]}),
    w1 ! crash, settle(),
    children(Sup), Sup;
%% one_for_all [w1, w2, w3]: w1 crashes and w2's restart fails once.
run(allfail) ->
    {ok, Sup} = start_sup({flags(one_for_all, 10), [worker(w1, permanent, []), worker(w2, permanent, [2]), worker(w3, permanent, [])]}),
    w1 ! crash, settle(),
    children(Sup), Sup;
%% start_child of a supervisor whose own child cannot start, beside a healthy sibling.
run(startchild) ->
    {ok, Sup} = start_sup({flags(one_for_one, 10), [worker(h, permanent, [])]}),
    Inner = sup(inner, permanent, {flags(one_for_one, 10), [worker(leaf, permanent, [1])]}, false),
    case supervisor:start_child(Sup, Inner) of
        {ok, _} -> log("result ok", []);
        {error, _} -> log("result error", [])
    end,
    settle(),
    children(Sup), Sup;
%% A transient child supervisor gives up (intensity 0 and its leaf crashes).
run(transient) ->
    Inner = sup(inner, transient, {flags(one_for_one, 0), [worker(leaf, permanent, [])]}, false),
    {ok, Sup} = start_sup({flags(one_for_one, 10), [worker(h, permanent, []), Inner]}),
    leaf ! crash, settle(),
    children(Sup), Sup;
%% The same child supervisor, significant, under auto_shutdown any_significant.
run(significant) ->
    Inner = sup(inner, transient, {flags(one_for_one, 0), [worker(leaf, permanent, [])]}, true),
    {ok, Sup} = start_sup({(flags(one_for_one, 10))#{auto_shutdown => any_significant}, [worker(h, permanent, []), Inner]}),
    leaf ! crash,
    receive {'EXIT', Sup, Reason} -> log("exit ~p", [Reason]), exited after 1000 -> log("still running", []), Sup end;
%% A permanent child supervisor that gives up is restarted.
run(permanent) ->
    Inner = sup(inner, permanent, {flags(one_for_one, 0), [worker(leaf, permanent, [])]}, false),
    {ok, Sup} = start_sup({flags(one_for_one, 10), [worker(h, permanent, []), Inner]}),
    leaf ! crash, settle(),
    children(Sup), Sup.
