"""The shared constructed states: clean steps, and the same steps after one wrong total."""

from __future__ import annotations

import numpy as np

from redraft.evals.tasks import load_task
from redraft.lab.findings._grid import task_options
from redraft.lab.findings._states import clean_states, post_states
from redraft.lab.testbed import CharCodec
from redraft.lab.testbed._tokenizer import vocabulary


def _text(ids: np.ndarray) -> str:
    inverse = {i: t for t, i in vocabulary().items()}
    return "".join(inverse[int(i)] for i in ids)


def _task():  # type: ignore[no-untyped-def]
    representation, options = task_options("quick")
    return load_task("running_sum", representation=representation, **options)


def test_post_error_states_differ_from_their_twins_only_by_the_wrong_total() -> None:
    task = _task()
    clean = clean_states(task, seed=3, episodes=4, steps=10)
    assert [p.shape[0] for p in clean.prompts] == [4] * 10
    sites = (4, 7)
    wrong = np.stack([(clean.right[:, [s - 1 for s in sites]] + d) % 100 for d in (1, 37)])
    post = post_states(task, seed=3, sites=sites, steps=10, clean=clean, wrong=wrong)
    assert post.prompts.shape[:2] == (2, 4 * len(sites) * 2)
    for k, d in enumerate((1, 37)):
        assert (post.delta[k] == d).all()
        assert ((post.local[k] - post.truth) % 100 == d).all()  # local = truth + δ
        for j in range(post.prompts.shape[1]):
            twin = clean.prompts[post.step[j] - 1][post.episode[j]]
            mine, theirs = _text(post.prompts[k, j]), _text(twin)
            assert len(mine) == len(theirs)
            changed = [i for i, (a, b) in enumerate(zip(mine, theirs, strict=True)) if a != b]
            assert changed, "a post-error state shows its wrong total"
            # Only totals differ: the keys and values of every row are the twin's.
            assert all(mine[i].isdigit() and theirs[i].isdigit() for i in changed)
            assert "true" not in mine  # no checkpoint: the truth is in no field
    after = post.after.reshape(-1, 2)
    assert (after == [1, 2]).all()


def test_clean_states_are_the_true_totals_of_their_episodes() -> None:
    task = _task()
    clean = clean_states(task, seed=0, episodes=2, steps=6)
    for e in range(2):
        for t in range(1, 6):
            text = _text(clean.prompts[t][e])
            last = text.rsplit("-> ", 1)[1][:2]
            assert int(last) == clean.right[e, t - 1]
    assert CharCodec().pad not in clean.prompts[0]
