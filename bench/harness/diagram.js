// Times our renderer (static/js/diagram.js) the way the player uses it on a saved run shown to its end:
// reset with the init event, append the trace, move the cursor to the end, follow it, draw; then the
// next frame, so that style, layout and paint of what was drawn are counted too.
import { Diagram } from "/static/js/diagram.js";

const frame = () => new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));

function freshStage() {
  const stage = document.querySelector(".stage");
  stage.replaceChildren(document.querySelector("#stage").content.cloneNode(true));
  return stage.querySelector(".diagram-wrap");
}

window.renderOurs = async (url) => {
  const trace = await (await fetch(url)).json();
  const wrap = freshStage();
  await frame();
  const t0 = performance.now();
  const diagram = new Diagram(wrap);
  diagram.reset(trace[0]);
  diagram.append(trace);
  diagram.show(trace.length);
  diagram.follow();
  diagram.draw();
  const t1 = performance.now();
  await frame();
  const t2 = performance.now();
  return { ms: t2 - t0, script: t1 - t0, arrows: wrap.querySelectorAll("g.msg").length };
};
window.ready = true;
