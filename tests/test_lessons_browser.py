"""A guided lesson in Chromium: the run pauses at each checkpoint, the learner predicts, the app reveals, the run
plays on, and the lessons page remembers it."""
import pytest

pytestmark = pytest.mark.browser

LESSON = "/s/two-generals/?preset=lost-last-ack"


def cursor(page):
    return int(page.evaluate("() => document.querySelector('.player').dataset.cursor || 0"))


def player(page, expr):
    return page.evaluate(f"() => document.querySelector('.player').player.{expr}")


def in_viewport(page, selector):
    box = page.locator(selector).bounding_box()
    size = page.viewport_size
    return box and box["y"] >= 0 and box["x"] >= 0 and box["y"] + box["height"] <= size["height"] + 1 \
        and box["x"] + box["width"] <= size["width"] + 1


def run(page, speed):
    """Run the lesson's set-up, then Play (as tests/test_player.py starts a run)."""
    page.select_option(".speed", speed)
    page.uncheck("#autoplay")
    page.click("#run")
    page.wait_for_selector(".diagram-wrap.has-run")
    page.click('[data-act="play"]')


def wait_for_checkpoint(page, n):
    page.wait_for_function(f"""() => {{ const c = document.querySelector('.lesson-card');
        return c && !c.hidden && c.querySelector('.lesson-card-title').textContent.startsWith('Checkpoint {n} of'); }}""")


def test_a_guided_lesson_end_to_end(page, live_daphne):
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(live_daphne.url + LESSON)
    assert "0 of 2 answered" in page.locator(".lesson-progress").text_content()
    run(page, "4")

    # The first checkpoint fires when B's ACK 1 (seq 8) is on screen, and the run waits there.
    wait_for_checkpoint(page, 1)
    page.wait_for_timeout(600)
    assert cursor(page) == 9 and not player(page, "playing")
    assert "ACK 1" in page.locator(".lesson-narration").text_content()
    card, stage = page.locator(".lesson-card").bounding_box(), page.locator(".stage").bounding_box()
    assert in_viewport(page, ".lesson-card") and stage["y"] < card["y"] + card["height"] <= stage["y"] + stage["height"]
    assert page.locator(".lesson-answer").is_disabled()
    page.locator(".lesson-choice input").first.check()
    page.click(".lesson-answer")
    page.wait_for_selector(".lesson-reveal.correct")
    assert page.locator(".lesson-reveal").text_content().startswith("Right.")
    assert "0 of 2" not in page.locator(".lesson-progress").text_content()

    # Continue plays on to the dropped messenger; a wrong prediction shows the right answer and why.
    page.click(".lesson-continue")
    wait_for_checkpoint(page, 2)
    assert cursor(page) == 13
    page.locator(".lesson-choice input[value='0']").check()
    page.keyboard.press("Enter")  # the keyboard answers as well as the mouse
    page.wait_for_selector(".lesson-reveal.incorrect")
    assert "A attacks alone" in page.locator(".lesson-reveal").text_content()
    assert page.locator(".lesson-choice.right").text_content().strip().startswith("A attacks alone")
    page.click(".lesson-continue")

    # The run ends: the lesson is finished, and the lessons page says so with the counts.
    page.wait_for_selector(".lesson-panel[data-finished='true']")
    assert page.locator(".lesson-card").is_hidden()
    assert "2 of 2 answered, 1 correct; finished" in page.locator(".lesson-progress").text_content()
    page.goto(live_daphne.url + "/lessons/")
    item = page.locator("li[data-lesson='two-generals/lost-last-ack']")
    assert item.get_attribute("data-finished") == "true"
    text = item.text_content()
    assert "2 of 2 answered" in text and "1 correct" in text and "finished" in text
    assert "Finished 1 of" in page.locator(".totals").text_content()


def test_the_checkpoint_card_is_on_screen_on_a_phone(page, live_daphne):
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(live_daphne.url + "/s/byzantine-generals/?preset=om1-four-generals")
    run(page, "16")
    wait_for_checkpoint(page, 1)
    assert in_viewport(page, ".lesson-card")
    assert in_viewport(page, ".lesson-answer")
    page.locator(".lesson-choice").first.click()
    page.click(".lesson-answer")
    page.wait_for_selector(".lesson-reveal.correct")
    assert in_viewport(page, ".lesson-continue")


def test_the_instructor_asks_the_room_a_lessons_question(page, live_daphne):
    page.goto(live_daphne.url + "/s/bully-election/?preset=worst-case")
    page.click("text=Open classroom")
    page.wait_for_selector(".room-lesson")
    label = page.locator(".room-lesson option").nth(1).text_content()
    page.select_option(".room-lesson", index=1)
    assert page.locator(".room-ask [name=question]").input_value().startswith(label.rstrip("…")[:40])
    options = page.locator(".room-ask [name=options]").input_value().splitlines()
    assert 2 <= len(options) <= 6 and all(options)
