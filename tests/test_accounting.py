"""pipeline.accounting: the launcher's written-or-dead-lettered check, from manifests."""

from pipeline import accounting, plan
from pipeline.manifest import ContentEntry
from pipeline.sources import StyleItem

K = 2


def _contents(n=6, seed=0):
  planned = plan.plan_contents(range(100, 100 + n), seed, (0.5, 0.25, 0.25))
  return [ContentEntry(p.content_id, f"c{p.content_id}.jpg", f"c{p.content_id}.jpg",
                       split=p.split, index_in_split=p.index_in_split, shard=0)
          for p in planned]


STYLES = [StyleItem(10 + i, f"s{i}.png", f"s{i}.png") for i in range(3)]


def _check(contents, dead, written, include_original=False, holdout=0.0):
  return accounting.unaccounted_views(contents, STYLES, dead, written, seed=0,
                                      holdout_fraction=holdout, k=K,
                                      include_original=include_original)


def test_everything_written_or_dead_lettered_is_accounted():
  contents = _contents()
  a, b, c = (x.content_id for x in contents[:3])
  written = {x.content_id: K + 1 for x in contents}
  written[a] = 0  # the whole content was dead-lettered (e.g. corrupt file)
  written[b] = K  # one stylized view failed
  dead = [{"stage": "content", "uri": "c.jpg", "content_id": a},
          {"stage": "stylize", "uri": "c.jpg", "content_id": b, "view_index": 2}]
  assert _check(contents, dead, written, include_original=True) == []
  del written[c]  # now a content's views vanished: nothing explains them
  (problem,) = _check(contents, dead, written, include_original=True)
  assert problem == {"content_id": c, "uri": f"c{c}.jpg", "planned": K + 1, "written": 0,
                     "dead_lettered": 0}


def test_a_lost_single_view_and_a_duplicate_are_both_caught():
  contents = _contents()
  written = {x.content_id: K for x in contents}
  first, second = contents[0].content_id, contents[1].content_id
  written[first] -= 1
  written[second] += 1
  problems = _check(contents, [], written)
  assert [(p["content_id"], p["planned"], p["written"]) for p in problems] == [
      (first, K, K - 1), (second, K, K + 1)]


def test_failed_styles_shrink_the_plan_as_the_pipeline_does():
  contents = _contents()
  dead = [{"stage": "style", "uri": "s0.png"}, {"stage": "style", "uri": "s1.png"}]
  # One usable style left: every content can get only one stylized view.
  assert _check(contents, dead, {x.content_id: 1 for x in contents}) == []
  assert len(_check(contents, dead, {x.content_id: K for x in contents})) == 6


def test_held_out_styles_change_each_splits_pool():
  contents = _contents(12)
  expected = accounting.planned_views(contents, [s.style_id for s in STYLES], seed=0,
                                      holdout_fraction=0.34, k=K, include_original=False)
  by_split = {x.split: expected[x.content_id] for x in contents}
  assert by_split["train"] == K and by_split["val"] == by_split["test"] == 1


def test_records_of_a_content_not_in_the_manifest_are_reported():
  contents = _contents(2)
  written = {x.content_id: K for x in contents}
  written[999] = 1
  assert [p["content_id"] for p in _check(contents, [], written)] == [999]


def test_a_content_dead_lettered_as_a_whole_must_have_no_records():
  contents = _contents(2)
  a = contents[0].content_id
  written = {x.content_id: K for x in contents}
  (problem,) = _check(contents, [{"stage": "content", "uri": "c.jpg", "content_id": a}],
                      written)
  assert problem["content_id"] == a and problem["written"] == K
  assert problem["dead_lettered"] == K  # the whole content, counted once more
