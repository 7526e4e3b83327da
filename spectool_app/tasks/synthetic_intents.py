"""The intents of the synthetic task generator: what users ask of the eight bfcl back-ends.

An intent is: a ``prepare`` function that draws slot values and puts what they refer to
into the task's initial configuration (a file in the current folder, a user in the
message workspace, a ticket in the queue, ...), returning the slots or ``None`` when the
intent does not fit what earlier turns planned; a ``script`` that yields the 1-3 gold
tool calls and receives each call's decoded result (so a call can take an order id or a
price from an earlier result); a short closing answer template; and user phrasings,
separate per split (train phrasings are never used for dev or test).

This module knows nothing about task ids, splits' sizes, episodes or checking; the
back-ends' own rules (what makes a call fail) are respected by construction and
verified by the generator that executes every gold call.
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from spectool_app.actions import ToolCall
from spectool_app.tasks.extra_phrasings import SYNTHETIC_TRAIN
from spectool_app.tasks.slot_values import Plan

FS, MATH, MSG, TW = "GorillaFileSystem", "MathAPI", "MessageAPI", "TwitterAPI"
TK, TR, TV, VC = "TicketAPI", "TradingBot", "TravelAPI", "VehicleControlAPI"
BACKENDS = (FS, MATH, MSG, TW, TK, TR, TV, VC)

Slots = dict[str, Any]
Script = Iterator[ToolCall]  # yields calls; a generator is sent each call's decoded result


@dataclass(frozen=True)
class Intent:
    """One kind of user request and how to fulfil it."""

    name: str  # category of the tasks it opens, e.g. "fs_move_to_folder"
    backend: str  # the bfcl class whose tools it calls
    prepare: Callable[[Plan], Slots | None]  # slots (config updated) or None: does not fit
    script: Callable[[Slots], Script]  # gold calls; may add result values to the slots
    answer: str  # closing Answer template over the slots
    train: tuple[str, ...]  # phrasings used for train tasks
    dev: tuple[str, ...]  # phrasings used for dev tasks only
    test: tuple[str, ...]  # phrasings used for test tasks only

    def phrasings(self, split: str) -> tuple[str, ...]:
        """The phrasing templates of ``split``."""
        return {"train": self.train, "dev": self.dev, "test": self.test}[split]


INTENTS: list[Intent] = []


def intent(name: str, backend: str, script: Callable[[Slots], Script], answer: str,
           train: tuple[str, ...], test: tuple[str, ...], dev: tuple[str, ...]):
    """Decorator: register the decorated ``prepare`` function as an intent."""
    def register(prepare: Callable[[Plan], Slots | None]) -> Callable[[Plan], Slots | None]:
        more = SYNTHETIC_TRAIN.get(name, ())  # extra training phrasings, for variety
        INTENTS.append(Intent(name, backend, prepare, script, answer, train + more, dev, test))
        return prepare
    return register


def call(tool: str, /, **arguments: Any) -> ToolCall:
    """A gold tool call (keyword arguments only)."""
    return ToolCall(tool, arguments)


def num(value: float) -> str:
    """A number as a user would write it: no trailing ``.0``."""
    return str(int(value)) if float(value).is_integer() else str(value)


def listing(items: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


# ============================================================== file system
def _file(content: str) -> dict:
    return {"type": "file", "content": content}


def _fs_default(plan: Plan, config: dict) -> None:
    pool, rng = plan.pool, plan.rng
    contents: dict[str, Any] = {}
    for _ in range(rng.randint(1, 3)):
        contents[pool.file_name()] = _file(pool.file_text())
    for _ in range(rng.randint(0, 2)):
        contents[pool.folder()] = {"type": "directory", "contents": {}}
    config["root"] = {pool.word(): {"type": "directory", "contents": contents}}


def _fs_here(plan: Plan) -> dict | None:
    """The current folder's contents, or None after a turn entered a folder made by a call."""
    plan.state(FS)
    if plan.known(FS, "in_new_folder"):
        return None
    return plan.folder()


def _fs_add_file(plan: Plan, here: dict, keyword: str | None = None) -> tuple[str, str]:
    name, text = plan.pool.file_name(), plan.pool.file_text(keyword)
    here[name] = _file(text)
    return name, text


def _fs_add_folder(plan: Plan, here: dict) -> str:
    name = plan.pool.folder()
    here[name] = {"type": "directory", "contents": {}}
    return name


def _fs_file_and_folder(plan: Plan) -> Slots | None:
    here = _fs_here(plan)
    if here is None:
        return None
    file, _ = _fs_add_file(plan, here)
    return {"file": file, "folder": _fs_add_folder(plan, here)}


@intent("fs_move_to_folder", FS,
        lambda s: iter([call("mv", source=s["file"], destination=s["folder"])]),
        "Done: moved {file} into {folder}.",
        train=("Move {file} into the {folder} folder.",
               "Could you put {file} in {folder}?",
               "Please relocate the file {file} to the directory {folder}.",
               "{file} belongs in {folder}. Move it there.",
               "mv {file} to {folder} please"),
        test=("I'd like {file} moved over to {folder}, can you do that?",
              "Shift {file} into {folder} for me."),
        dev=("Can {file} go into the {folder} directory?",))
def _fs_move(plan: Plan) -> Slots | None:
    return _fs_file_and_folder(plan)


@intent("fs_copy_to_folder", FS,
        lambda s: iter([call("cp", source=s["file"], destination=s["folder"])]),
        "Copied {file} into {folder}.",
        train=("Copy {file} into {folder}.",
               "Can you make a copy of {file} inside the {folder} folder?",
               "Please duplicate {file} into {folder}, keeping the original where it is.",
               "cp {file} -> {folder}"),
        test=("I need a second copy of {file} sitting in {folder}.",
              "Would you copy the file {file} over to the {folder} directory?"),
        dev=("Put a copy of {file} in {folder}, please.",))
def _fs_copy(plan: Plan) -> Slots | None:
    return _fs_file_and_folder(plan)


@intent("fs_rename", FS,
        lambda s: iter([call("mv", source=s["file"], destination=s["new_name"])]),
        "Renamed {file} to {new_name}.",
        train=("Rename {file} to {new_name}.",
               "Could you change the name of {file} to {new_name}?",
               "{file} should be called {new_name} from now on.",
               "Please rename the file {file} as {new_name}."),
        test=("I want {file} renamed; call it {new_name}.",
              "Give {file} the new name {new_name}."),
        dev=("Can you rename {file} so it is {new_name}?",))
def _fs_rename(plan: Plan) -> Slots | None:
    here = _fs_here(plan)
    if here is None:
        return None
    file, _ = _fs_add_file(plan, here)
    return {"file": file, "new_name": plan.pool.file_name(file.rsplit(".", 1)[1])}


def _fs_new_folder_file_calls(s: Slots) -> Script:
    yield call("mkdir", dir_name=s["folder"])
    yield call("cd", folder=s["folder"])
    yield call("touch", file_name=s["file"])


@intent("fs_new_folder_with_file", FS, _fs_new_folder_file_calls,
        "Created {folder} with an empty {file} inside.",
        train=("Create a folder named {folder} and an empty file {file} inside it.",
               "Make a new directory {folder}, go into it and create {file}.",
               "Can you set up a {folder} folder containing a blank file called {file}?",
               "New folder {folder}, then touch {file} in there."),
        test=("I need a fresh directory called {folder} with an empty {file} in it.",
              "Please start a {folder} folder and put a new empty file {file} inside."),
        dev=("Could you create the directory {folder} and, inside it, the file {file}?",))
def _fs_new_folder_file(plan: Plan) -> Slots | None:
    if _fs_here(plan) is None:
        return None
    slots = {"folder": plan.pool.folder(), "file": plan.pool.file_name()}
    plan.put(FS, "in_new_folder", True)
    return slots


def _fs_read_calls(s: Slots) -> Script:
    yield call("cd", folder=s["folder"])
    yield call("cat", file_name=s["file"])


@intent("fs_read_in_folder", FS, _fs_read_calls, "Here is the content of {file} from {folder}.",
        train=("Show me what is in {file} inside the {folder} folder.",
               "Open the {folder} directory and display {file}.",
               "Can you read {file} for me? It's in {folder}.",
               "cat {file} from {folder}"),
        test=("What does the file {file} in {folder} say?",
              "Please go to {folder} and print the contents of {file}."),
        dev=("I'd like to see {file}, which lives in {folder}.",))
def _fs_read(plan: Plan) -> Slots | None:
    here = _fs_here(plan)
    if here is None:
        return None
    folder = _fs_add_folder(plan, here)
    file, _ = _fs_add_file(plan, here[folder]["contents"])
    plan.cwd.append(folder)
    return {"folder": folder, "file": file}


def _fs_write_calls(s: Slots) -> Script:
    yield call("touch", file_name=s["file"])
    yield call("echo", content=s["text"], file_name=s["file"])


@intent("fs_write_new_file", FS, _fs_write_calls, "Created {file} with your text.",
        train=("Create a file {file} containing: {text}",
               "Make a new file called {file} and write '{text}' into it.",
               "Please save the note '{text}' in a new file named {file}.",
               "touch {file} and put this in it: {text}"),
        test=("I want a file {file} whose content is '{text}'.",
              "Could you write '{text}' to a brand new file {file}?"),
        dev=("New file {file}, with the text: {text}",))
def _fs_write(plan: Plan) -> Slots | None:
    if _fs_here(plan) is None:
        return None
    return {"file": plan.pool.file_name(), "text": plan.pool.message()}


_WC_UNITS = (("lines", "l"), ("words", "w"), ("characters", "c"))  # bfcl's wc modes


def _fs_count_calls(s: Slots) -> Script:
    result = yield call("wc", file_name=s["file"], mode=s["mode"])
    s["count"] = result["count"]


@intent("fs_count", FS, _fs_count_calls, "{file} has {count} {unit}.",
        train=("How many {unit} are in {file}?",
               "Count the {unit} in {file}.",
               "Could you tell me the number of {unit} in the file {file}?",
               "wc {file}, I need the {unit}"),
        test=("What's the {unit} count of {file}?",
              "I'm curious how many {unit} {file} has."),
        dev=("Please count how many {unit} the file {file} contains.",))
def _fs_count(plan: Plan) -> Slots | None:
    here = _fs_here(plan)
    if here is None:
        return None
    file, _ = _fs_add_file(plan, here)
    unit, mode = plan.rng.choice(_WC_UNITS)
    return {"file": file, "unit": unit, "mode": mode}


def _fs_grep_calls(s: Slots) -> Script:
    result = yield call("grep", file_name=s["file"], pattern=s["pattern"])
    s["n"] = len(result["matching_lines"])


@intent("fs_grep", FS, _fs_grep_calls, "Found {n} line(s) with '{pattern}' in {file}.",
        train=("Find the lines containing '{pattern}' in {file}.",
               "Search {file} for {pattern}.",
               "Which lines of {file} mention {pattern}?",
               "grep {pattern} in {file} please"),
        test=("Could you look through {file} and pull out every line with '{pattern}'?",
              "I need the lines in {file} where '{pattern}' appears."),
        dev=("Show me where {pattern} shows up in {file}.",))
def _fs_grep(plan: Plan) -> Slots | None:
    here = _fs_here(plan)
    if here is None:
        return None
    pattern = plan.pool.keyword()
    file, _ = _fs_add_file(plan, here, keyword=pattern)
    return {"file": file, "pattern": pattern}


# ============================================================== math
def _math_default(plan: Plan, config: dict) -> None:
    """MathAPI has no state."""


def _numbers(plan: Plan, count: int, decimals: bool = True) -> list[float]:
    rng = plan.rng
    return [round(rng.uniform(1, 500), rng.choice((0, 1, 2))) if decimals and rng.random() < 0.4
            else float(rng.randint(1, 999)) for _ in range(count)]


def _math_add_calls(s: Slots) -> Script:
    result = yield call("add", a=s["a"], b=s["b"])
    s["result"] = num(result["result"])


@intent("math_add", MATH, _math_add_calls, "{a_text} + {b_text} = {result}.",
        train=("What is {a_text} plus {b_text}?",
               "Add {a_text} and {b_text}.",
               "Could you compute the sum of {a_text} and {b_text}?",
               "{a_text} + {b_text} = ?"),
        test=("I need {a_text} added to {b_text}, what do I get?",
              "Tell me the total of {a_text} and {b_text}."),
        dev=("Please work out {a_text} plus {b_text} for me.",))
def _math_add(plan: Plan) -> Slots | None:
    a, b = _numbers(plan, 2)
    return {"a": a, "b": b, "a_text": num(a), "b_text": num(b)}


def _math_mean_calls(s: Slots) -> Script:
    result = yield call("mean", numbers=s["numbers"])
    s["result"] = round(result["result"], 2)


@intent("math_mean", MATH, _math_mean_calls, "The average is {result}.",
        train=("What is the average of {numbers_text}?",
               "Compute the mean of these numbers: {numbers_text}.",
               "Could you find the mean value of {numbers_text}?",
               "avg of {numbers_text}"),
        test=("I have the values {numbers_text}. What's their average?",
              "Please calculate the arithmetic mean of {numbers_text}."),
        dev=("Give me the mean of {numbers_text}.",))
def _math_mean(plan: Plan) -> Slots | None:
    numbers = _numbers(plan, plan.rng.randint(3, 6))
    return {"numbers": numbers, "numbers_text": listing([num(x) for x in numbers])}


def _math_percentage_calls(s: Slots) -> Script:
    result = yield call("percentage", part=s["part"], whole=s["whole"])
    s["result"] = round(result["result"], 2)


@intent("math_percentage", MATH, _math_percentage_calls,
        "{part_text} is {result}% of {whole_text}.",
        train=("What percentage of {whole_text} is {part_text}?",
               "Express {part_text} as a percent of {whole_text}.",
               "Could you tell me what percent {part_text} is out of {whole_text}?",
               "{part_text} out of {whole_text} in percent?"),
        test=("If the whole is {whole_text}, how many percent is {part_text}?",
              "I scored {part_text} of {whole_text} points. What percentage is that?"),
        dev=("Please compute {part_text} as a share of {whole_text}, in percent.",))
def _math_percentage(plan: Plan) -> Slots | None:
    whole = float(plan.rng.randint(20, 5000))
    part = float(plan.rng.randint(1, int(whole)))
    return {"part": part, "whole": whole, "part_text": num(part), "whole_text": num(whole)}


# (spoken unit, bfcl code) pairs that imperial_si_conversion knows; a fixed set.
_CONVERSIONS = ((("centimeters", "cm"), ("inches", "in")),
                (("inches", "in"), ("centimeters", "cm")),
                (("meters", "m"), ("feet", "ft")), (("feet", "ft"), ("meters", "m")),
                (("meters", "m"), ("yards", "yd")), (("yards", "yd"), ("meters", "m")),
                (("kilometers", "km"), ("miles", "miles")),
                (("miles", "miles"), ("kilometers", "km")),
                (("kilograms", "kg"), ("pounds", "lb")), (("pounds", "lb"), ("kilograms", "kg")))


def _math_convert_calls(s: Slots) -> Script:
    result = yield call("imperial_si_conversion", value=s["value"], unit_in=s["unit_in"],
                        unit_out=s["unit_out"])
    s["result"] = round(result["result"], 3)


@intent("math_convert_units", MATH, _math_convert_calls,
        "{value_text} {from_unit} is {result} {to_unit}.",
        train=("Convert {value_text} {from_unit} to {to_unit}.",
               "How many {to_unit} is {value_text} {from_unit}?",
               "Could you turn {value_text} {from_unit} into {to_unit}?",
               "{value_text} {from_unit} in {to_unit}?"),
        test=("I measured {value_text} {from_unit}; what is that in {to_unit}?",
              "Please express {value_text} {from_unit} in {to_unit}."),
        dev=("What do {value_text} {from_unit} come to in {to_unit}?",))
def _math_convert(plan: Plan) -> Slots | None:
    (from_unit, unit_in), (to_unit, unit_out) = plan.rng.choice(_CONVERSIONS)
    value = _numbers(plan, 1)[0]
    return {"value": value, "value_text": num(value), "unit_in": unit_in, "unit_out": unit_out,
            "from_unit": from_unit, "to_unit": to_unit}


def _math_split_calls(s: Slots) -> Script:
    total = yield call("sum_values", numbers=s["numbers"])
    share = yield call("divide", a=total["result"], b=s["people"])
    s["total"], s["share"] = num(total["result"]), round(share["result"], 2)


@intent("math_split_bill", MATH, _math_split_calls, "The total is {total}, so {share} per person.",
        train=("We spent {numbers_text}. Add it up and split it between {people_text} people.",
               "Sum {numbers_text} and divide the total by {people_text}.",
               "Our costs were {numbers_text}; how much does each of the {people_text} of us owe?",
               "Total of {numbers_text}, then per head for {people_text} people?"),
        test=("The receipts say {numbers_text}. If {people_text} friends share it equally, what's "
              "each share?",
              "Could you total {numbers_text} and then split that {people_text} ways?"),
        dev=("Please add up {numbers_text} and tell me the share for each of {people_text} "
             "people.",))
def _math_split(plan: Plan) -> Slots | None:
    numbers = [float(plan.rng.randint(5, 400)) for _ in range(plan.rng.randint(2, 4))]
    people = plan.rng.randint(2, 9)
    return {"numbers": numbers, "numbers_text": listing([num(x) for x in numbers]),
            "people": float(people), "people_text": str(people)}


def _math_std_calls(s: Slots) -> Script:
    std = yield call("standard_deviation", numbers=s["numbers"])
    rounded = yield call("round_number", number=std["result"], decimal_places=s["places"])
    s["result"] = rounded["result"]


@intent("math_std_rounded", MATH, _math_std_calls,
        "The standard deviation is {result} (rounded to {places} decimals).",
        train=("What is the standard deviation of {numbers_text}, rounded to {places} decimal "
               "places?",
               "Compute the std dev of {numbers_text} and round it to {places} decimals.",
               "Could you find how spread out {numbers_text} are (standard deviation), to "
               "{places} places?",
               "stdev of {numbers_text}, {places} decimals"),
        test=("I need the standard deviation for {numbers_text}, rounded to {places} digits after "
              "the point.",
              "Please give the standard deviation of the values {numbers_text} with {places} "
              "decimals."),
        dev=("Round the standard deviation of {numbers_text} to {places} decimal places.",))
def _math_std(plan: Plan) -> Slots | None:
    numbers = _numbers(plan, plan.rng.randint(3, 6), decimals=False)
    if len(set(numbers)) == 1:
        return None
    return {"numbers": numbers, "numbers_text": listing([num(x) for x in numbers]),
            "places": plan.rng.randint(2, 4)}


# ============================================================== messaging
def _msg_default(plan: Plan, config: dict) -> None:
    config.update(user_map={}, inbox=[], message_count=0, user_count=0,
                  random_seed=plan.rng.randint(1, 999_999))
    for _ in range(plan.rng.randint(2, 4)):
        _msg_user(plan)
    ids = list(config["user_map"].values())
    for _ in range(plan.rng.randint(1, 3)):
        _msg_inbox(plan, plan.rng.choice(ids), plan.pool.message())


def _msg_user(plan: Plan) -> tuple[str, str]:
    """Add a workspace user; returns (name, user id)."""
    config = plan.config[MSG]
    name, user_id = plan.pool.first_name(), f"USR{len(config['user_map']) + 1:03d}"
    config["user_map"][name] = user_id
    config["user_count"] = len(config["user_map"])
    return name, user_id


def _msg_inbox(plan: Plan, receiver_id: str, text: str) -> None:
    config = plan.config[MSG]
    config["inbox"].append({receiver_id: text})
    config["message_count"] = len(config["inbox"])


def _msg_logged_in(plan: Plan) -> bool:
    """Make sure someone is logged in (fixing it in the config when no turn decided yet)."""
    plan.state(MSG)
    return plan.get(MSG, "current_user", lambda: _msg_user(plan)[1]) is not None


def _msg_send_calls(s: Slots) -> Script:
    user = yield call("get_user_id", user=s["name"])
    yield call("send_message", receiver_id=user["user_id"], message=s["text"])


@intent("msg_send", MSG, _msg_send_calls, "Sent your message to {name}.",
        train=("Send {name} a message saying: {text}",
               "Message {name}: \"{text}\"",
               "Could you text {name} the following? {text}",
               "Please let {name} know: {text}"),
        test=("Drop {name} a note that says '{text}'",
              "I want {name} to get this message from me: {text}"),
        dev=("Write to {name}: {text}",))
def _msg_send(plan: Plan) -> Slots | None:
    if not _msg_logged_in(plan):
        return None
    name, _ = _msg_user(plan)
    return {"name": name, "text": plan.pool.message()}


def _msg_add_send_calls(s: Slots) -> Script:
    added = yield call("add_contact", user_name=s["name"])
    yield call("send_message", receiver_id=added["user_id"], message=s["text"])


@intent("msg_add_contact_and_send", MSG, _msg_add_send_calls,
        "Added {name} as a contact and sent the message.",
        train=("Add {name} as a new contact and send them: {text}",
               "{name} isn't in my contacts yet. Add them, then message '{text}'.",
               "Please create a contact for {name} and send the message \"{text}\".",
               "new contact {name}, then send: {text}"),
        test=("Could you register {name} in the workspace and write them '{text}'?",
              "Put {name} in my contacts and pass on this message: {text}"),
        dev=("Add the user {name}, then send them this: {text}",))
def _msg_add_send(plan: Plan) -> Slots | None:
    if not _msg_logged_in(plan):
        return None
    return {"name": plan.pool.first_name(), "text": plan.pool.message()}


def _msg_delete_calls(s: Slots) -> Script:
    user = yield call("get_user_id", user=s["name"])
    yield call("delete_message", receiver_id=user["user_id"])


@intent("msg_delete_latest", MSG, _msg_delete_calls, "Deleted your latest message to {name}.",
        train=("Delete the last message I sent to {name}.",
               "Please remove my most recent message to {name}.",
               "Could you take back the latest message that went to {name}?",
               "unsend my last msg to {name}"),
        test=("I regret my last message to {name}; delete it please.",
              "Get rid of the newest message I sent {name}."),
        dev=("Remove the latest message addressed to {name}.",))
def _msg_delete(plan: Plan) -> Slots | None:
    if not _msg_logged_in(plan):
        return None
    name, user_id = _msg_user(plan)
    _msg_inbox(plan, user_id, plan.pool.message())
    return {"name": name}


def _msg_search_calls(s: Slots) -> Script:
    found = yield call("search_messages", keyword=s["keyword"])
    s["n"] = len(found["results"])


@intent("msg_search", MSG, _msg_search_calls, "Found {n} message(s) mentioning {keyword}.",
        train=("Search my messages for {keyword}.",
               "Which messages mention {keyword}?",
               "Could you find every message that contains the word {keyword}?",
               "look up msgs about {keyword}"),
        test=("I'm looking for the messages where {keyword} comes up.",
              "Pull up any message that talks about {keyword}, please."),
        dev=("Find messages with {keyword} in them.",))
def _msg_search(plan: Plan) -> Slots | None:
    if not _msg_logged_in(plan):
        return None
    keyword = plan.pool.keyword()
    _msg_inbox(plan, plan.rng.choice(list(plan.config[MSG]["user_map"].values())),
               plan.pool.message(keyword))
    return {"keyword": keyword.capitalize()}


def _msg_login_calls(s: Slots) -> Script:
    user = yield call("get_user_id", user=s["name"])
    yield call("message_login", user_id=user["user_id"])


@intent("msg_login", MSG, _msg_login_calls, "You are now logged in as {name}.",
        train=("Log me into the messaging app as {name}.",
               "Sign in to messages with the user {name}.",
               "Could you log in as {name} on the message workspace?",
               "I'm {name}. Please log me in to messaging."),
        test=("Please switch the messaging login to {name}.",
              "Get me signed in to the message service; my user is {name}."),
        dev=("Log in to the messaging workspace as user {name}.",))
def _msg_login(plan: Plan) -> Slots | None:
    plan.state(MSG)
    if plan.known(MSG, "current_user"):
        return None
    plan.get(MSG, "current_user", None)
    name, user_id = _msg_user(plan)
    plan.put(MSG, "current_user", user_id)
    return {"name": name}


def _msg_view_calls(s: Slots) -> Script:
    sent = yield call("view_messages_sent")
    s["n"] = sum(len(texts) for texts in sent["messages"].values())


@intent("msg_view_sent", MSG, _msg_view_calls, "You have sent {n} message(s) so far.",
        train=("Show me all the messages I've sent.",
               "What messages have I sent so far?",
               "Could you list my sent messages?",
               "sent messages pls"),
        test=("I'd like to review everything I have sent.",
              "Pull up my outgoing messages, please."),
        dev=("Display the history of messages I sent.",))
def _msg_view(plan: Plan) -> Slots | None:
    return {} if _msg_logged_in(plan) else None


# ============================================================== twitter
def _tw_default(plan: Plan, config: dict) -> None:
    pool = plan.pool
    config.update(username=pool.handle(), password=pool.password(), tweets={}, comments={},
                  retweets={},
                  following_list=[pool.handle() for _ in range(plan.rng.randint(1, 3))],
                  tweet_counter=0)
    for _ in range(plan.rng.randint(1, 2)):
        _tw_tweet(plan, pool.handle())


def _tw_tweet(plan: Plan, author: str) -> int:
    """Add a tweet by ``author``; returns its id."""
    tweet_id = plan.pool.number(1, 9999)
    plan.config[TW]["tweets"][str(tweet_id)] = {
        "id": tweet_id, "username": author, "content": plan.pool.tweet(), "tags": [],
        "mentions": []}
    return tweet_id


def _tw_finish(plan: Plan) -> None:
    """Next tweet id after every tweet in the config."""
    ids = [int(k) for k in plan.config[TW]["tweets"]]
    plan.config[TW]["tweet_counter"] = max(ids, default=0) + 1


def _tw_authenticated(plan: Plan) -> bool:
    plan.state(TW)
    return plan.get(TW, "authenticated", True)


def _tw_post_slots(plan: Plan) -> Slots | None:
    return {"text": plan.pool.tweet()} if _tw_authenticated(plan) else None


@intent("tw_post", TW, lambda s: iter([call("post_tweet", content=s["text"])]),
        "Posted your tweet.",
        train=("Tweet this: {text}",
               "Post \"{text}\" on my Twitter.",
               "Could you publish a tweet saying '{text}'?",
               "Please share the following on Twitter: {text}"),
        test=("Put out a tweet with the text '{text}'.",
              "I'd like to tweet: {text}"),
        dev=("Post a new tweet: {text}",))
def _tw_post(plan: Plan) -> Slots | None:
    return _tw_post_slots(plan)


@intent("tw_post_tagged", TW,
        lambda s: iter([call("post_tweet", content=s["text"], tags=s["tags"])]),
        "Posted your tweet tagged {tags_text}.",
        train=("Tweet '{text}' with the hashtags {tags_text}.",
               "Post \"{text}\" and tag it {tags_text}.",
               "Could you tweet {text} Use the tags {tags_text}.",
               "Share on Twitter: {text} (tags: {tags_text})"),
        test=("Put this on Twitter, tagged {tags_text}: {text}",
              "I want to tweet '{text}' with {tags_text} as hashtags."),
        dev=("Publish the tweet '{text}' and add the tags {tags_text}.",))
def _tw_post_tagged(plan: Plan) -> Slots | None:
    slots = _tw_post_slots(plan)
    if slots is None:
        return None
    tags = [plan.pool.tag() for _ in range(plan.rng.randint(1, 2))]
    return {**slots, "tags": tags, "tags_text": listing(tags)}


@intent("tw_comment", TW,
        lambda s: iter([call("comment", tweet_id=s["tweet_id"], comment_content=s["text"])]),
        "Commented on tweet {tweet_id}.",
        train=("Comment '{text}' on tweet {tweet_id}.",
               "Reply to tweet number {tweet_id} with: {text}",
               "Could you leave the comment \"{text}\" under tweet {tweet_id}?",
               "tweet {tweet_id}: add comment {text}"),
        test=("Please respond to tweet {tweet_id} by commenting '{text}'.",
              "On tweet {tweet_id}, I want to comment: {text}"),
        dev=("Add a comment to tweet {tweet_id} saying {text}",))
def _tw_comment(plan: Plan) -> Slots | None:
    if not _tw_authenticated(plan):
        return None
    return {"tweet_id": _tw_tweet(plan, plan.pool.handle()), "text": plan.pool.message()}


@intent("tw_retweet", TW, lambda s: iter([call("retweet", tweet_id=s["tweet_id"])]),
        "Retweeted tweet {tweet_id}.",
        train=("Retweet tweet {tweet_id}.",
               "Please share tweet number {tweet_id} on my timeline.",
               "Could you retweet the post with id {tweet_id}?",
               "RT {tweet_id}"),
        test=("I'd like to retweet tweet {tweet_id}.",
              "Boost tweet {tweet_id} with a retweet from my account."),
        dev=("Can you retweet {tweet_id} for me?",))
def _tw_retweet(plan: Plan) -> Slots | None:
    if not _tw_authenticated(plan):
        return None
    return {"tweet_id": _tw_tweet(plan, plan.pool.handle())}


@intent("tw_follow", TW, lambda s: iter([call("follow_user", username_to_follow=s["user"])]),
        "You now follow {user}.",
        train=("Follow {user} on Twitter.",
               "Could you follow the account {user}?",
               "Please start following {user}.",
               "follow {user}"),
        test=("I want to keep up with {user}; follow them.",
              "Add {user} to the accounts I follow."),
        dev=("Can you follow the user {user} for me?",))
def _tw_follow(plan: Plan) -> Slots | None:
    return {"user": plan.pool.handle()} if _tw_authenticated(plan) else None


def _tw_post_comment_calls(s: Slots) -> Script:
    tweet = yield call("post_tweet", content=s["text"])
    yield call("comment", tweet_id=tweet["id"], comment_content=s["comment"])
    s["tweet_id"] = tweet["id"]


@intent("tw_post_and_comment", TW, _tw_post_comment_calls,
        "Posted tweet {tweet_id} and added your comment.",
        train=("Tweet '{text}' and then comment '{comment}' on it.",
               "Post \"{text}\", then add the comment \"{comment}\" to that tweet.",
               "Could you publish '{text}' and reply to it yourself with '{comment}'?",
               "new tweet: {text} / first comment: {comment}"),
        test=("I want to post '{text}' and follow it up with a comment: {comment}",
              "Share the tweet '{text}'; once it's up, comment '{comment}' on it."),
        dev=("Please tweet {text} and comment {comment} under it.",))
def _tw_post_comment(plan: Plan) -> Slots | None:
    slots = _tw_post_slots(plan)
    return None if slots is None else {**slots, "comment": plan.pool.message()}


@intent("tw_login", TW,
        lambda s: iter([call("authenticate_twitter", username=s["user"], password=s["password"])]),
        "You are logged in to Twitter as {user}.",
        train=("Log me in to Twitter. Username {user}, password {password}.",
               "Sign in to my Twitter account {user} with the password {password}.",
               "Could you authenticate me on Twitter? User: {user}, password: {password}",
               "twitter login {user} / {password}"),
        test=("My Twitter handle is {user} and the password is {password}; please log in.",
              "Please authenticate Twitter using {user} and {password}."),
        dev=("Log in to Twitter as {user}, password {password}.",))
def _tw_login(plan: Plan) -> Slots | None:
    config = plan.state(TW)
    if plan.known(TW, "authenticated"):
        return None
    plan.get(TW, "authenticated", False)
    plan.put(TW, "authenticated", True)
    return {"user": config["username"], "password": config["password"]}


# ============================================================== tickets
def _tk_default(plan: Plan, config: dict) -> None:
    config.update(ticket_queue=[], ticket_counter=1)
    for _ in range(plan.rng.randint(1, 3)):
        _tk_ticket(plan, plan.pool.full_name())


def _tk_ticket(plan: Plan, owner: str, status: str = "Open") -> dict:
    ticket = {"id": plan.pool.number(100, 99_999), "title": plan.pool.title(),
              "description": plan.pool.sentence(), "status": status,
              "priority": plan.rng.randint(1, 5), "created_by": owner}
    plan.config[TK]["ticket_queue"].append(ticket)
    return ticket


def _tk_finish(plan: Plan) -> None:
    ids = [t["id"] for t in plan.config[TK]["ticket_queue"]]
    plan.config[TK]["ticket_counter"] = max(ids, default=0) + 1


def _tk_user(plan: Plan) -> str | None:
    plan.state(TK)
    return plan.get(TK, "current_user", plan.pool.full_name)


def _tk_create_calls(s: Slots) -> Script:
    ticket = yield call("create_ticket", title=s["title"], description=s["description"],
                        priority=s["priority"])
    s["id"] = ticket["id"]


@intent("tk_create", TK, _tk_create_calls, "Opened ticket {id}: {title}.",
        train=("Open a ticket titled '{title}' with the description '{description}' at priority "
               "{priority}.",
               "Create a support ticket: {title}. Details: {description} Priority {priority}.",
               "Could you file a priority {priority} ticket called \"{title}\"? Description: "
               "{description}",
               "new ticket '{title}', prio {priority}, desc: {description}"),
        test=("I need to report '{title}'. Please describe it as '{description}' and set priority "
              "{priority}.",
              "Log a ticket named {title} (priority {priority}) saying: {description}"),
        dev=("Please raise a ticket, title '{title}', priority {priority}, description "
             "'{description}'.",))
def _tk_create(plan: Plan) -> Slots | None:
    if not _tk_user(plan):
        return None
    return {"title": plan.pool.title(), "description": plan.pool.sentence(),
            "priority": plan.rng.randint(1, 5)}


def _tk_existing(plan: Plan) -> Slots:
    ticket = _tk_ticket(plan, plan.pool.full_name())
    return {"ticket_id": ticket["id"], "title": ticket["title"]}


@intent("tk_close", TK, lambda s: iter([call("close_ticket", ticket_id=s["ticket_id"])]),
        "Closed ticket {ticket_id}.",
        train=("Close ticket {ticket_id}.",
               "Please close the support ticket with id {ticket_id}.",
               "Could you mark ticket #{ticket_id} as closed?",
               "ticket {ticket_id} can be closed"),
        test=("We're done with ticket {ticket_id}; close it.",
              "I'd like ticket number {ticket_id} closed, please."),
        dev=("Shut ticket {ticket_id}, it's no longer needed.",))
def _tk_close(plan: Plan) -> Slots | None:
    plan.state(TK)
    return _tk_existing(plan)


@intent("tk_resolve", TK,
        lambda s: iter([call("resolve_ticket", ticket_id=s["ticket_id"],
                             resolution=s["resolution"])]),
        "Resolved ticket {ticket_id}.",
        train=("Resolve ticket {ticket_id} with the note '{resolution}'.",
               "Mark ticket {ticket_id} as resolved: {resolution}",
               "Could you resolve ticket #{ticket_id}? Resolution: {resolution}",
               "ticket {ticket_id} resolved -> {resolution}"),
        test=("Ticket {ticket_id} is fixed. Record the resolution '{resolution}'.",
              "Please close out ticket {ticket_id} as resolved, saying: {resolution}"),
        dev=("Resolve {ticket_id}; the resolution is {resolution}",))
def _tk_resolve(plan: Plan) -> Slots | None:
    plan.state(TK)
    return {**_tk_existing(plan), "resolution": plan.pool.sentence()}


def _tk_get_calls(s: Slots) -> Script:
    ticket = yield call("get_ticket", ticket_id=s["ticket_id"])
    s["status"] = ticket["status"]


@intent("tk_get", TK, _tk_get_calls, "Ticket {ticket_id} is {status}: {title}.",
        train=("Show me ticket {ticket_id}.",
               "What's the status of ticket {ticket_id}?",
               "Could you fetch the details of ticket #{ticket_id}?",
               "get ticket {ticket_id}"),
        test=("I want to look at support ticket {ticket_id}.",
              "Pull up ticket number {ticket_id} for me, please."),
        dev=("Can you retrieve ticket {ticket_id}?",))
def _tk_get(plan: Plan) -> Slots | None:
    plan.state(TK)
    return _tk_existing(plan)


@intent("tk_set_priority", TK,
        lambda s: iter([call("edit_ticket", ticket_id=s["ticket_id"],
                             updates={"priority": s["priority"]})]),
        "Ticket {ticket_id} now has priority {priority}.",
        train=("Change the priority of ticket {ticket_id} to {priority}.",
               "Set ticket {ticket_id} to priority {priority}.",
               "Could you bump ticket #{ticket_id} to priority level {priority}?",
               "ticket {ticket_id} prio -> {priority}"),
        test=("Ticket {ticket_id} needs priority {priority} now; please update it.",
              "Please edit ticket {ticket_id} so its priority is {priority}."),
        dev=("Update the priority on ticket {ticket_id} to {priority}.",))
def _tk_priority(plan: Plan) -> Slots | None:
    plan.state(TK)
    slots = _tk_existing(plan)
    old = plan.config[TK]["ticket_queue"][-1]["priority"]
    return {**slots, "priority": plan.rng.choice([p for p in range(1, 6) if p != old])}


def _tk_login_create_calls(s: Slots) -> Script:
    yield call("ticket_login", username=s["user"], password=s["password"])
    ticket = yield call("create_ticket", title=s["title"])
    s["id"] = ticket["id"]


@intent("tk_login_and_create", TK, _tk_login_create_calls,
        "Logged in as {user} and opened ticket {id}.",
        train=("Log in to the ticket system as {user} (password {password}) and open a ticket "
               "titled '{title}'.",
               "Sign into tickets with {user} / {password}, then create the ticket \"{title}\".",
               "Could you log me in as {user}, password {password}, and file a ticket called "
               "{title}?",
               "ticket login {user} {password}; new ticket: {title}"),
        test=("My ticketing login is {user} with password {password}. Please raise a ticket named "
              "'{title}'.",
              "Authenticate as {user} using {password} and then create a ticket, title {title}."),
        dev=("Log in as {user} with password {password} and create a ticket '{title}'.",))
def _tk_login_create(plan: Plan) -> Slots | None:
    plan.state(TK)
    if plan.known(TK, "current_user"):
        return None
    plan.get(TK, "current_user", None)
    user = plan.pool.handle()
    plan.put(TK, "current_user", user)
    return {"user": user, "password": plan.pool.password(), "title": plan.pool.title()}


# ============================================================== trading
# Companies get_symbol_by_name knows and whose symbols are in bfcl's default stocks (fixed set).
_COMPANIES = ("Apple", "Google", "Tesla", "Microsoft", "Nvidia", "Zeta Corp", "Alpha Tech",
              "Omega Industries", "Quasar Ltd.", "Neptune Systems", "Synex Solutions")


def _tr_default(plan: Plan, config: dict) -> None:
    from bfcl_eval.eval_checker.multi_turn_eval.func_source_code.trading_bot import DEFAULT_STATE

    rng = plan.rng
    config.update(
        orders={}, authenticated=False, market_status="Open", order_counter=1,
        stocks=copy.deepcopy(DEFAULT_STATE["stocks"]), watch_list=[], transaction_history=[],
        account_info={"account_id": plan.pool.number(10_000, 99_999),
                      "balance": float(rng.randint(60_000, 150_000)),
                      "binding_card": rng.randint(10 ** 15, 10 ** 16 - 1)},
        random_seed=rng.randint(1, 999_999))
    config["watch_list"] = rng.sample(sorted(config["stocks"]), rng.randint(1, 3))
    for _ in range(rng.randint(0, 2)):
        _tr_stock(plan)
    for _ in range(rng.randint(1, 2)):
        _tr_order(plan, rng.choice(("Completed", "Open", "Pending")))


def _tr_stock(plan: Plan) -> tuple[str, float]:
    """Add a made-up stock; returns (symbol, price)."""
    rng, symbol, price = plan.rng, plan.pool.symbol(), plan.pool.money(5, 900)
    plan.config[TR]["stocks"][symbol] = {
        "price": price, "percent_change": round(rng.uniform(-3, 3), 2),
        "volume": round(rng.uniform(0.1, 5), 3), "MA(5)": round(price * rng.uniform(0.95, 1.05), 2),
        "MA(20)": round(price * rng.uniform(0.9, 1.1), 2)}
    return symbol, price


def _tr_order(plan: Plan, status: str) -> int:
    """Add an order for one of the stocks; returns its id."""
    rng, config = plan.rng, plan.config[TR]
    order_id = plan.pool.number(10_000, 99_999)
    symbol = rng.choice(sorted(config["stocks"]))
    config["orders"][str(order_id)] = {
        "id": order_id, "order_type": rng.choice(("Buy", "Sell")), "symbol": symbol,
        "price": config["stocks"][symbol]["price"], "amount": rng.randint(1, 200), "status": status}
    return order_id


def _tr_finish(plan: Plan) -> None:
    ids = [int(k) for k in plan.config[TR]["orders"]]
    plan.config[TR]["order_counter"] = max(ids, default=10_000) + 1


def _tr_authenticated(plan: Plan) -> bool:
    plan.state(TR)
    return plan.get(TR, "authenticated", True)


def _tr_price_calls(s: Slots) -> Script:
    info = yield call("get_stock_info", symbol=s["symbol"])
    s["price"] = info["price"]


@intent("tr_stock_price", TR, _tr_price_calls, "{symbol} is trading at {price}.",
        train=("What's the current price of {symbol}?",
               "Look up the stock {symbol} for me.",
               "Could you get me the latest details on {symbol}?",
               "{symbol} quote?"),
        test=("How is {symbol} doing right now?",
              "I'd like the stock information for the symbol {symbol}."),
        dev=("Check the price of {symbol}, please.",))
def _tr_price(plan: Plan) -> Slots | None:
    plan.state(TR)
    return {"symbol": _tr_stock(plan)[0]}


def _tr_buy_calls(s: Slots) -> Script:
    info = yield call("get_stock_info", symbol=s["symbol"])
    order = yield call("place_order", order_type="Buy", symbol=s["symbol"], price=info["price"],
                       amount=s["amount"])
    s["order_id"], s["price"] = order["order_id"], info["price"]


@intent("tr_buy_at_market", TR, _tr_buy_calls,
        "Placed order {order_id}: buy {amount} {symbol} at {price}.",
        train=("Buy {amount} shares of {symbol} at the current price.",
               "Check the price of {symbol} and place a buy order for {amount} shares at that "
               "price.",
               "Could you purchase {amount} {symbol} shares for me at market price?",
               "buy {amount} x {symbol} @ market"),
        test=("I want {amount} shares of {symbol}; use whatever it's trading at now.",
              "Please get the current {symbol} price and buy {amount} shares at it."),
        dev=("Place an order for {amount} shares of {symbol} at today's price.",))
def _tr_buy(plan: Plan) -> Slots | None:
    if not _tr_authenticated(plan):
        return None
    return {"symbol": _tr_stock(plan)[0], "amount": plan.rng.randint(1, 60)}


@intent("tr_sell_limit", TR,
        lambda s: iter([call("place_order", order_type="Sell", symbol=s["symbol"],
                             price=s["price"], amount=s["amount"])]),
        "Placed a sell order for {amount} {symbol} at {price}.",
        train=("Sell {amount} shares of {symbol} at {price}.",
               "Place a sell order: {amount} {symbol} at a price of {price}.",
               "Could you put {amount} of my {symbol} shares up for sale at {price} each?",
               "sell {amount} {symbol} @ {price}"),
        test=("I'd like to sell {amount} {symbol} shares, asking {price} per share.",
              "Please list {amount} shares of {symbol} for sale at {price}."),
        dev=("Sell {amount} of {symbol} for {price} a share.",))
def _tr_sell(plan: Plan) -> Slots | None:
    if not _tr_authenticated(plan):
        return None
    symbol, _ = _tr_stock(plan)
    return {"symbol": symbol, "price": plan.pool.money(5, 950), "amount": plan.rng.randint(1, 300)}


@intent("tr_cancel_order", TR, lambda s: iter([call("cancel_order", order_id=s["order_id"])]),
        "Cancelled order {order_id}.",
        train=("Cancel order {order_id}.",
               "Please cancel my order with id {order_id}.",
               "Could you call off order #{order_id}?",
               "order {order_id}: cancel it"),
        test=("I changed my mind about order {order_id}; cancel it.",
              "Withdraw order number {order_id}, please."),
        dev=("Can you cancel the order {order_id}?",))
def _tr_cancel(plan: Plan) -> Slots | None:
    plan.state(TR)
    return {"order_id": _tr_order(plan, plan.rng.choice(("Open", "Pending")))}


@intent("tr_watch_add", TR, lambda s: iter([call("add_to_watchlist", stock=s["symbol"])]),
        "Added {symbol} to your watchlist.",
        train=("Add {symbol} to my watchlist.",
               "Please start watching the stock {symbol}.",
               "Could you put {symbol} on my watch list?",
               "watchlist += {symbol}"),
        test=("I want to keep an eye on {symbol}; add it to the watchlist.",
              "Include {symbol} in the stocks I'm watching."),
        dev=("Watch {symbol} for me.",))
def _tr_watch_add(plan: Plan) -> Slots | None:
    plan.state(TR)
    return {"symbol": _tr_stock(plan)[0]}


def _tr_fund_calls(s: Slots) -> Script:
    result = yield call("fund_account", amount=s["amount"])
    s["balance"] = result["new_balance"]


@intent("tr_fund_account", TR, _tr_fund_calls,
        "Deposited {amount_text}; your balance is now {balance}.",
        train=("Deposit {amount_text} into my trading account.",
               "Add {amount_text} dollars to my account.",
               "Could you fund my account with {amount_text}?",
               "top up {amount_text}"),
        test=("Please move {amount_text} into the trading account.",
              "I'd like to put {amount_text} more into my account."),
        dev=("Fund the account with {amount_text} dollars.",))
def _tr_fund(plan: Plan) -> Slots | None:
    if not _tr_authenticated(plan):
        return None
    amount = float(plan.pool.number(100, 50_000))
    return {"amount": amount, "amount_text": num(amount)}


def _tr_company_calls(s: Slots) -> Script:
    found = yield call("get_symbol_by_name", name=s["company"])
    info = yield call("get_stock_info", symbol=found["symbol"])
    s["symbol"], s["price"] = found["symbol"], info["price"]


@intent("tr_company_price", TR, _tr_company_calls, "{company} ({symbol}) is at {price}.",
        train=("How much is {company} stock right now?",
               "Find the ticker for {company} and show me its stock info.",
               "Could you check what {company} shares are trading at?",
               "{company} price?"),
        test=("I'm curious about {company}. What does its stock look like today?",
              "Please look up {company}'s symbol and its current price."),
        dev=("What's the share price of {company}?",))
def _tr_company(plan: Plan) -> Slots | None:
    plan.state(TR)
    return {"company": plan.rng.choice(_COMPANIES)}


# ============================================================== travel
# Cities get_nearest_airport_by_city knows (a fixed set from its documentation).
_CITIES = ("Rivermist", "Stonebrook", "Maplecrest", "Silverpine", "Shadowridge", "London", "Paris",
           "Sunset Valley", "Oakendale", "Willowbend", "Crescent Hollow", "Autumnville",
           "Pinehaven", "Greenfield", "San Francisco", "Los Angeles", "New York", "Chicago",
           "Boston", "Beijing", "Hong Kong", "Rome", "Tokyo")
# Fixed sets the back-end dictates, shared by all splits: travel classes, currencies
# (each paired with USD) and, through _travel_facts, airports and priced routes.
_CLASSES = ("economy", "business", "first")
_CURRENCIES = ("RMB", "EUR", "JPY", "GBP", "CAD", "AUD", "INR", "RUB", "BRL", "MXN")


@functools.lru_cache(maxsize=None)
def _travel_facts() -> tuple[dict[str, str], tuple[tuple[str, str], ...]]:
    """(city -> airport, the airport pairs get_flight_cost prices), asked of the back-end."""
    from spectool_app.backends import new_instance

    api: Any = new_instance(TV, {})
    airports = {city: api.get_nearest_airport_by_city(city)["nearest_airport"] for city in _CITIES}
    routes = []
    for src in api.list_all_airports():
        for dst in api.list_all_airports():
            try:
                api.get_flight_cost(src, dst, "2025-01-01", "economy")
            except ValueError:
                continue
            routes.append((src, dst))
    return airports, tuple(routes)


def _tv_default(plan: Plan, config: dict) -> None:
    first, last = plan.pool.first_name(), plan.pool.first_name()
    config.update(random_seed=plan.rng.randint(1, 999_999), credit_card_list={}, booking_record={},
                  user_first_name=first, user_last_name=last, budget_limit=None)
    _tv_card(plan)


def _tv_card(plan: Plan) -> str:
    """Register a card with room for any flight; returns its id."""
    config, rng = plan.config[TV], plan.rng
    card_id = plan.pool.code("card_", 4)
    config["credit_card_list"][card_id] = {
        "card_number": str(rng.randint(10 ** 15, 10 ** 16 - 1)),
        "expiration_date": f"{rng.randint(1, 12):02d}/{rng.randint(2027, 2032)}",
        "cardholder_name": f"{config['user_first_name']} {config['user_last_name']}",
        "card_verification_number": rng.randint(100, 999),
        "balance": float(rng.randint(15_000, 80_000))}
    return card_id


def _tv_booking(plan: Plan) -> str:
    """Add a booking paid with a new card; returns its id."""
    rng, card_id = plan.rng, _tv_card(plan)
    booking_id = plan.pool.code("", 7)
    src, dst = rng.choice(_travel_facts()[1])
    plan.config[TV]["booking_record"][booking_id] = {
        "card_id": card_id, "travel_date": plan.pool.date(), "travel_from": src, "travel_to": dst,
        "travel_class": rng.choice(_CLASSES), "travel_cost": float(rng.randint(100, 3000)),
        "transaction_id": str(rng.randint(10 ** 7, 10 ** 8 - 1))}
    return booking_id


def _tv_token(plan: Plan) -> str | None:
    """The access token the user can quote (fixed in the config on first need)."""
    config = plan.state(TV)

    def fresh() -> str:
        config.update(token_type="Bearer", token_expires_in=3600, token_scope="read_write")
        return plan.pool.secret()

    token = plan.get(TV, "access_token", fresh)
    return None if token is None or plan.known(TV, "token_from_login") else token


def _tv_class(plan: Plan) -> Slots:
    """A travel class as the tool wants it and as a user says it."""
    cls = plan.rng.choice(_CLASSES)
    return {"cls": cls, "cls_text": cls if cls == "economy" else f"{cls} class"}


def _tv_airport_calls(s: Slots) -> Script:
    found = yield call("get_nearest_airport_by_city", location=s["city"])
    s["airport"] = found["nearest_airport"]


@intent("tv_nearest_airport", TV, _tv_airport_calls, "The nearest airport to {city} is {airport}.",
        train=("What's the nearest airport to {city}?",
               "Find the closest airport to {city}.",
               "Which airport should I use if I'm in {city}?",
               "airport near {city}?"),
        test=("I'm staying in {city}. Which airport is closest?",
              "Could you tell me the airport nearest {city}?"),
        dev=("Look up the nearest airport for {city}.",))
def _tv_airport(plan: Plan) -> Slots | None:
    plan.state(TV)
    return {"city": plan.rng.choice(_CITIES)}


def _tv_cost_calls(s: Slots) -> Script:
    cost = yield call("get_flight_cost", travel_from=s["src"], travel_to=s["dst"],
                      travel_date=s["date"], travel_class=s["cls"])
    s["cost"] = num(cost["travel_cost_list"][0])


@intent("tv_flight_cost", TV, _tv_cost_calls,
        "Flying {cls_text} {src}-{dst} on {date} costs {cost}.",
        train=("How much does it cost to fly {cls_text} from {src} to {dst} on {date}?",
               "Get the price of flying {src} to {dst} on {date} in {cls_text}.",
               "Could you check the {cls_text} fare from {src} to {dst} for {date}?",
               "fare {src}->{dst} {date} {cls}"),
        test=("I'm thinking of flying from {src} to {dst} on {date} in {cls_text}. What would it "
              "cost?",
              "Please quote me a ticket {src} to {dst}, departing {date}, {cls_text}."),
        dev=("What does {cls_text} from {src} to {dst} cost on {date}?",))
def _tv_cost(plan: Plan) -> Slots | None:
    plan.state(TV)
    src, dst = plan.rng.choice(_travel_facts()[1])
    return {"src": src, "dst": dst, "date": plan.pool.date(), **_tv_class(plan)}


def _tv_city_cost_calls(s: Slots) -> Script:
    src = yield call("get_nearest_airport_by_city", location=s["from_city"])
    dst = yield call("get_nearest_airport_by_city", location=s["to_city"])
    cost = yield call("get_flight_cost", travel_from=src["nearest_airport"],
                      travel_to=dst["nearest_airport"], travel_date=s["date"],
                      travel_class=s["cls"])
    s["cost"] = num(cost["travel_cost_list"][0])


@intent("tv_city_flight_cost", TV, _tv_city_cost_calls,
        "Flying {cls_text} from {from_city} to {to_city} on {date} costs {cost}.",
        train=("How much would it cost to fly {cls_text} from {from_city} to {to_city} on {date}?",
               "Find the airports near {from_city} and {to_city} and price a flight on {date} in "
               "{cls_text}.",
               "Could you check the fare for flying {cls_text} from {from_city} to {to_city} on "
               "{date}?",
               "{from_city} to {to_city}, {date}, {cls}: price?"),
        test=("I live in {from_city} and need to get to {to_city} on {date}. What's the fare in "
              "{cls_text}?",
              "Please work out the {cls_text} airfare between {from_city} and {to_city} for "
              "{date}."),
        dev=("What's the cost of a trip from {from_city} to {to_city} on {date}, flying "
             "{cls_text}?",))
def _tv_city_cost(plan: Plan) -> Slots | None:
    plan.state(TV)
    airports, routes = _travel_facts()
    pairs = [(a, b) for a in _CITIES for b in _CITIES if (airports[a], airports[b]) in routes]
    from_city, to_city = plan.rng.choice(pairs)
    return {"from_city": from_city, "to_city": to_city, "date": plan.pool.date(), **_tv_class(plan)}


def _tv_book_calls(s: Slots) -> Script:
    booked = yield call("book_flight", access_token=s["token"], card_id=s["card_id"],
                        travel_date=s["date"], travel_from=s["src"], travel_to=s["dst"],
                        travel_class=s["cls"])
    s["booking_id"] = booked["booking_id"]


@intent("tv_book_flight", TV, _tv_book_calls,
        "Booked: booking {booking_id}, {src} to {dst} on {date}.",
        train=("Book a flight from {src} to {dst} on {date} in {cls_text} with card {card_id}. My "
               "access token is {token}.",
               "Using token {token}, reserve {cls_text} seats {src} to {dst} on {date}; charge "
               "{card_id}.",
               "Could you book me on a flight from {src} to {dst} on {date} in {cls_text}? Pay "
               "with {card_id}, token {token}.",
               "book {src}->{dst} {date} {cls}, card {card_id}, token {token}"),
        test=("I need to fly {src} to {dst} on {date}, {cls_text}. Put it on {card_id}; my token "
              "is {token}.",
              "Please make a booking in {cls_text} from {src} to {dst} for {date}, paying with "
              "card {card_id} (access token {token})."),
        dev=("With access token {token}, book {cls_text} {src} to {dst} on {date} using "
             "{card_id}.",))
def _tv_book(plan: Plan) -> Slots | None:
    token = _tv_token(plan)
    if token is None:
        return None
    src, dst = plan.rng.choice(_travel_facts()[1])
    return {"token": token, "card_id": _tv_card(plan), "src": src, "dst": dst,
            "date": plan.pool.date(), **_tv_class(plan)}


@intent("tv_cancel_booking", TV,
        lambda s: iter([call("cancel_booking", access_token=s["token"],
                             booking_id=s["booking_id"])]),
        "Cancelled booking {booking_id}.",
        train=("Cancel booking {booking_id}. My access token is {token}.",
               "Please cancel my trip with booking id {booking_id} (token {token}).",
               "Could you call off booking {booking_id}? Use the token {token}.",
               "cancel {booking_id}, token {token}"),
        test=("My plans changed, so booking {booking_id} has to go. Token: {token}.",
              "Using access token {token}, cancel the reservation {booking_id}."),
        dev=("Cancel the booking {booking_id} with token {token}.",))
def _tv_cancel(plan: Plan) -> Slots | None:
    token = _tv_token(plan)
    return None if token is None else {"token": token, "booking_id": _tv_booking(plan)}


def _tv_balance_calls(s: Slots) -> Script:
    found = yield call("get_credit_card_balance", access_token=s["token"], card_id=s["card_id"])
    s["balance"] = num(found["card_balance"])


@intent("tv_card_balance", TV, _tv_balance_calls, "Card {card_id} has a balance of {balance}.",
        train=("What's the balance on card {card_id}? Access token: {token}.",
               "Check how much is left on my card {card_id} using token {token}.",
               "Could you look up the balance of credit card {card_id}? My token is {token}.",
               "balance {card_id} (token {token})"),
        test=("With token {token}, tell me the current balance of {card_id}.",
              "I want to know what's available on card {card_id}; the access token is {token}."),
        dev=("Show the balance of {card_id}, token {token}.",))
def _tv_balance(plan: Plan) -> Slots | None:
    token = _tv_token(plan)
    return None if token is None else {"token": token, "card_id": _tv_card(plan)}


def _tv_exchange_calls(s: Slots) -> Script:
    result = yield call("compute_exchange_rate", base_currency=s["base"],
                        target_currency=s["target"], value=s["value"])
    s["result"] = num(result["exchanged_value"])


@intent("tv_exchange", TV, _tv_exchange_calls, "{value_text} {base} is {result} {target}.",
        train=("Convert {value_text} {base} to {target}.",
               "How much is {value_text} {base} in {target}?",
               "Could you exchange {value_text} {base} into {target} for me?",
               "{value_text} {base} -> {target}"),
        test=("I have {value_text} {base}. What would that be in {target}?",
              "Please work out the {target} equivalent of {value_text} {base}."),
        dev=("What do {value_text} {base} come to in {target}?",))
def _tv_exchange(plan: Plan) -> Slots | None:
    plan.state(TV)
    other = plan.rng.choice(_CURRENCIES)
    base, target = ("USD", other) if plan.rng.random() < 0.5 else (other, "USD")
    value = float(plan.rng.randint(5, 20_000))
    return {"base": base, "target": target, "value": value, "value_text": num(value)}


def _tv_login_calls(s: Slots) -> Script:
    auth = yield call("authenticate_travel", client_id=s["client_id"], client_secret=s["secret"],
                      refresh_token=s["refresh"], grant_type="read_write",
                      user_first_name=s["first"], user_last_name=s["last"])
    found = yield call("get_credit_card_balance", access_token=auth["access_token"],
                       card_id=s["card_id"])
    s["balance"] = num(found["card_balance"])


@intent("tv_login_and_balance", TV, _tv_login_calls,
        "Logged in; card {card_id} has a balance of {balance}.",
        train=("Log me in to the travel system with full read and write access: client id "
               "{client_id}, secret {secret}, refresh token {refresh}, name {first} {last}. Then "
               "show the balance of card {card_id}.",
               "Authenticate me for travel (read_write) as {first} {last} with client "
               "{client_id}, secret {secret} and refresh token {refresh}, then check card "
               "{card_id}.",
               "Could you sign me in? I'm {first} {last}; client_id {client_id}, client_secret "
               "{secret}, refresh_token {refresh}, grant read_write. After that, what's left on "
               "{card_id}?",
               "travel login rw: {client_id} / {secret} / {refresh}, {first} {last}; balance of "
               "{card_id}"),
        test=("I'm {first} {last}. Please log in to travel with read-write access using client "
              "{client_id}, secret {secret}, refresh token {refresh}, and tell me the balance on "
              "{card_id}.",
              "First authenticate (client id {client_id}, secret {secret}, refresh token "
              "{refresh}, read_write, user {first} {last}), then get the balance of card "
              "{card_id}."),
        dev=("Sign in to the travel API as {first} {last} (client {client_id}, secret {secret}, "
             "refresh {refresh}, read_write) and check card {card_id}.",))
def _tv_login(plan: Plan) -> Slots | None:
    config = plan.state(TV)
    if plan.known(TV, "access_token"):
        return None
    plan.get(TV, "access_token", None)
    plan.put(TV, "token_from_login", True)
    pool = plan.pool
    return {"client_id": pool.secret(), "secret": pool.secret(), "refresh": pool.secret(),
            "first": config["user_first_name"], "last": config["user_last_name"],
            "card_id": _tv_card(plan)}


# ============================================================== vehicle
_DOORS = ("driver", "passenger", "rear_left", "rear_right")
_DOOR_WORDS = {"driver": "driver's", "passenger": "passenger", "rear_left": "rear left",
               "rear_right": "rear right"}
# City pairs estimate_distance knows once their zipcodes are looked up (a fixed set).
_ROUTES = (("Rivermist", "Stonebrook"), ("Maplecrest", "Silverpine"),
           ("Shadowridge", "Sunset Valley"), ("Oakendale", "Willowbend"),
           ("Crescent Hollow", "Autumnville"), ("San Francisco", "Rivermist"),
           ("Silverpine", "Oakendale"), ("San Francisco", "Silverpine"),
           ("Stonebrook", "San Francisco"))


def _vc_default(plan: Plan, config: dict) -> None:
    from bfcl_eval.eval_checker.multi_turn_eval.func_source_code import vehicle_control

    rng = plan.rng
    config.update({k.lstrip("_"): copy.deepcopy(v)
                   for k, v in vehicle_control.DEFAULT_STATE.items()})
    config["engineState"] = config.pop("engine_state")
    config.update(random_seed=rng.randint(1, 999_999), fuelLevel=float(rng.randint(5, 30)),
                  acTemperature=float(rng.randint(16, 28)),
                  frontLeftTirePressure=float(rng.randint(28, 35)),
                  frontRightTirePressure=float(rng.randint(28, 35)))


def _vc_doors(plan: Plan) -> dict[str, str]:
    plan.state(VC)
    return plan.get(VC, "doorStatus", {door: "unlocked" for door in _DOORS})


def _vc_lock_calls(s: Slots) -> Script:
    yield call("lockDoors", unlock=False, door=s["doors"])


@intent("vc_lock_doors", VC, _vc_lock_calls, "Locked {doors_text}.",
        train=("Lock {doors_text}.",
               "Please lock {doors_text} of the car.",
               "Could you secure {doors_text} for me?",
               "lock {doors_text} pls"),
        test=("Make sure to lock {doors_text}.",
              "I'd like {doors_text} locked now."),
        dev=("Can you lock {doors_text}?",))
def _vc_lock(plan: Plan) -> Slots | None:
    status = _vc_doors(plan)
    unlocked = [d for d in _DOORS if status[d] == "unlocked"]
    if not unlocked:
        return None
    doors = sorted(plan.rng.sample(unlocked, plan.rng.randint(1, len(unlocked))), key=_DOORS.index)
    plan.put(VC, "doorStatus", {**status, **{d: "locked" for d in doors}})
    if len(doors) == len(_DOORS):
        text = "all four doors"
    else:
        text = f"the {listing([_DOOR_WORDS[d] for d in doors])} door{'s' if len(doors) > 1 else ''}"
    return {"doors": doors, "doors_text": text}


def _vc_start_calls(s: Slots) -> Script:
    yield call("lockDoors", unlock=False, door=list(_DOORS))
    yield call("pressBrakePedal", pedalPosition=1.0)
    yield call("startEngine", ignitionMode="START")


@intent("vc_start_engine", VC, _vc_start_calls, "All doors locked and the engine is running.",
        train=("Start the car.",
               "Lock up and start the engine, please.",
               "Could you get the engine running? Lock the doors and press the brake first.",
               "engine on"),
        test=("I'm ready to drive; please start the engine safely.",
              "Fire up the engine for me."),
        dev=("Can you start the engine?",))
def _vc_start(plan: Plan) -> Slots | None:
    plan.state(VC)
    if any(plan.known(VC, k) for k in ("doorStatus", "engineState", "brakePedalStatus")):
        return None
    plan.get(VC, "engineState", "stopped")
    plan.get(VC, "brakePedalStatus", "released")
    _vc_doors(plan)
    plan.put(VC, "engineState", "running")
    plan.put(VC, "doorStatus", {door: "locked" for door in _DOORS})
    plan.put(VC, "brakePedalStatus", "pressed")
    return {}


def _vc_fuel_calls(s: Slots) -> Script:
    result = yield call("fillFuelTank", fuelAmount=s["amount"])
    s["level"] = num(round(result["fuelLevel"], 2))


@intent("vc_fill_fuel", VC, _vc_fuel_calls,
        "Added {amount_text} gallons; the tank holds {level} now.",
        train=("Add {amount_text} gallons of fuel.",
               "Fill up the tank with {amount_text} gallons.",
               "Could you put {amount_text} more gallons in the tank?",
               "fuel +{amount_text} gal"),
        test=("I'd like {amount_text} gallons added to the fuel tank.",
              "Please refuel with {amount_text} gallons."),
        dev=("Pump {amount_text} gallons into the tank.",))
def _vc_fuel(plan: Plan) -> Slots | None:
    plan.state(VC)
    level = plan.get(VC, "fuelLevel", float(plan.rng.randint(2, 30)))
    if level > 44:
        return None
    amount = round(plan.rng.uniform(1, 49 - level), plan.rng.choice((0, 1)))
    plan.put(VC, "fuelLevel", level + amount)
    return {"amount": amount, "amount_text": num(amount)}


def _vc_liters_calls(s: Slots) -> Script:
    gallons = yield call("liter_to_gallon", liter=s["liters"])
    result = yield call("fillFuelTank", fuelAmount=gallons["gallon"])
    s["level"] = num(round(result["fuelLevel"], 2))


@intent("vc_fill_fuel_liters", VC, _vc_liters_calls,
        "Added {liters_text} liters; the tank holds {level} gallons now.",
        train=("Add {liters_text} liters of fuel to the tank.",
               "Convert {liters_text} liters to gallons and fill the tank with that much.",
               "Could you refuel with {liters_text} liters?",
               "fuel +{liters_text} L"),
        test=("I bought {liters_text} liters of gas. Put them in the tank.",
              "Please top up the tank with {liters_text} litres."),
        dev=("Pour {liters_text} liters into the fuel tank.",))
def _vc_liters(plan: Plan) -> Slots | None:
    plan.state(VC)
    level = plan.get(VC, "fuelLevel", float(plan.rng.randint(2, 30)))
    if level > 40:
        return None
    liters = float(plan.rng.randint(4, int((50 - level) * 3.7)))
    plan.put(VC, "fuelLevel", level + liters * 0.264172)
    return {"liters": liters, "liters_text": num(liters)}


@intent("vc_climate", VC,
        lambda s: iter([call("adjustClimateControl", temperature=s["temperature"],
                             fanSpeed=s["fan"], mode=s["mode"])]),
        "Climate set to {temp_text} degrees, {mode} mode, fan {fan}.",
        train=("Set the AC to {temp_text} degrees Celsius in {mode} mode with fan speed {fan}.",
               "Adjust the climate control: {temp_text}°C, mode {mode}, fan at {fan}.",
               "Could you make it {temp_text} degrees inside? Use {mode} mode and fan speed {fan}.",
               "climate {temp_text}C {mode} fan {fan}"),
        test=("I'd like the cabin at {temp_text} degrees, {mode} mode, with the fan on {fan}.",
              "Please change the climate settings to {temp_text}°C, {mode}, fan speed {fan}."),
        dev=("Put the climate control on {mode}, {temp_text} degrees, fan {fan}.",))
def _vc_climate(plan: Plan) -> Slots | None:
    plan.state(VC)
    rng = plan.rng
    temperature = float(rng.randint(16, 30)) if rng.random() < 0.7 else rng.randint(32, 59) / 2
    return {"temperature": temperature, "temp_text": num(temperature),
            "mode": rng.choice(("auto", "cool", "heat", "defrost")), "fan": rng.randint(0, 100)}


@intent("vc_navigate", VC, lambda s: iter([call("set_navigation", destination=s["address"])]),
        "Navigating to {address}.",
        train=("Navigate to {address}.",
               "Set the GPS destination to {address}.",
               "Could you take me to {address}?",
               "nav: {address}"),
        test=("I need directions to {address}, please start navigation.",
              "Route me to {address}."),
        dev=("Please set navigation for {address}.",))
def _vc_navigate(plan: Plan) -> Slots | None:
    plan.state(VC)
    return {"address": plan.pool.address()}


def _vc_distance_calls(s: Slots) -> Script:
    a = yield call("get_zipcode_based_on_city", city=s["city_a"])
    b = yield call("get_zipcode_based_on_city", city=s["city_b"])
    found = yield call("estimate_distance", cityA=a["zipcode"], cityB=b["zipcode"])
    s["distance"] = num(found["distance"])


@intent("vc_distance", VC, _vc_distance_calls, "{city_a} to {city_b} is {distance} km.",
        train=("How far is it from {city_a} to {city_b}?",
               "Estimate the distance between {city_a} and {city_b}.",
               "Could you look up the zip codes of {city_a} and {city_b} and tell me the distance?",
               "distance {city_a} -> {city_b}?"),
        test=("I'm driving from {city_a} to {city_b}. How long is the trip in km?",
              "Please work out how many kilometers lie between {city_a} and {city_b}."),
        dev=("What's the distance from {city_a} to {city_b}?",))
def _vc_distance(plan: Plan) -> Slots | None:
    plan.state(VC)
    city_a, city_b = plan.rng.choice(_ROUTES)
    if plan.rng.random() < 0.5:
        city_a, city_b = city_b, city_a
    return {"city_a": city_a, "city_b": city_b}


def _vc_tire_calls(s: Slots) -> Script:
    yield call("check_tire_pressure")
    shop = yield call("find_nearest_tire_shop")
    yield call("set_navigation", destination=shop["shopLocation"])
    s["shop"] = shop["shopLocation"]


@intent("vc_tire_shop", VC, _vc_tire_calls, "Tire pressure checked; navigating to {shop}.",
        train=("Check my tire pressure and navigate to the nearest tire shop.",
               "Look at the tire pressures, then set the GPS to the closest tire shop.",
               "Could you check the tires and route me to a tire shop nearby?",
               "tires check + nav to tire shop"),
        test=("My tires feel soft. Check them and take me to the nearest tire shop.",
              "Please inspect the tire pressure and then start navigation to the closest tire "
              "shop."),
        dev=("Check tire pressure, then guide me to the nearest tire shop.",))
def _vc_tire(plan: Plan) -> Slots | None:
    plan.state(VC)
    return {}


DEFAULTS: dict[str, Callable[[Plan, dict], None]] = {
    FS: _fs_default, MATH: _math_default, MSG: _msg_default, TW: _tw_default,
    TK: _tk_default, TR: _tr_default, TV: _tv_default, VC: _vc_default}
FINISHERS: dict[str, Callable[[Plan], None]] = {TW: _tw_finish, TK: _tk_finish, TR: _tr_finish}
