"kdnb_predict --report run as a user runs it: one self-contained page whose numbers are those of --out."
import json, re
from html.parser import HTMLParser
import cv2, numpy as np, pytest
from conftest import run

skimage = pytest.importorskip('skimage.data')

class Page(HTMLParser):
    "Every tag and attribute of a page; raises on nothing, so the checks below are what matters"
    def __init__(self): super().__init__(); self.tags, self.srcs = [], []
    def handle_starttag(self, tag, attrs):
        self.tags.append(tag); self.srcs += [v for k, v in attrs if k in ('src', 'href')]

@pytest.fixture(scope='module')
def media(tmp_path_factory):
    d = tmp_path_factory.mktemp('report'); img = skimage.astronaut()
    cv2.imwrite(str(d/'astronaut.png'), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    vw = cv2.VideoWriter(str(d/'astronaut.mp4'), cv2.VideoWriter_fourcc(*'mp4v'), 10, (256, 256))
    for i in range(12): vw.write(cv2.cvtColor(cv2.resize(np.roll(img, 4*i, 1), (256, 256)), cv2.COLOR_RGB2BGR))
    vw.release()
    cv2.imwrite(str(d/'wall.png'), np.full((120, 160, 3), 128, np.uint8))
    return d

def _page(fn):
    text = fn.read_text(); p = Page(); p.feed(text); p.close(); return text, p

def test_report_page(work, media, tmp_path):
    r = run('kdnb_predict', work['teacher'], media/'astronaut.mp4', media/'astronaut.png', media/'wall.png', '--frames', 4,
            '--report', tmp_path/'rep', '--out', tmp_path/'x.json', cwd=tmp_path)
    assert f"report written to {tmp_path/'rep'/'report.html'}" in r.stdout or 'report written to rep/report.html' in r.stdout
    text, p = _page(tmp_path/'rep/report.html')
    assert text.startswith('<!DOCTYPE html>') and p.tags.count('section') == 3 and p.srcs
    assert all(re.match(r'data:image/(png|jpeg);base64,', s) for s in p.srcs)   # every image inline: opens from disk, offline
    assert str(media) not in text and str(tmp_path) not in text and '/tmp/' not in text   # no absolute path
    js = json.loads((tmp_path/'x.json').read_text())
    for o in js[:2]: assert f"{o['prob']:.3f}" in text and o['verdict'] in text
    assert 'no face found' in text and 'test_efficientnet' in text and 'heat maps: Grad-CAM' in text
    from kdnb.cli import sha256
    assert sha256(work['teacher']) in text
    n = min(3, js[0]['faces'])   # the video's 3 most and 3 least fake faces, each a crop and its map
    assert len(p.srcs) == 1 + 2*2*n + 1 + 2*js[1]['faces']   # + its timeline; the image boxed, then each face and its map

def test_report_exported_has_no_maps(work, media, tmp_path):
    run('kdnb_export', '--checkpoint', work['teacher'], '--format', 'onnx', '--out', tmp_path/'exp')
    onnx = next((tmp_path/'exp').glob('*.onnx'))
    run('kdnb_predict', onnx, media/'astronaut.png', '--report', tmp_path/'rep')
    text, p = _page(tmp_path/'rep/report.html')
    assert 'Grad-CAM' not in text and 'exported .onnx' in text and len(p.srcs) == 1 + js_faces(work, media, tmp_path)

def js_faces(work, media, tmp_path):
    run('kdnb_predict', work['teacher'], media/'astronaut.png', '--out', tmp_path/'f.json')
    return json.loads((tmp_path/'f.json').read_text())[0]['faces']

def test_report_folder_not_writable(work, media, tmp_path):
    (tmp_path/'file').write_text('x')
    r = run('kdnb_predict', work['teacher'], media/'astronaut.png', '--report', tmp_path/'file', ok=False)
    assert r.returncode == 2 and r.stderr.startswith(f"kdnb_predict: error: {tmp_path/'file'/'report.html'}") and 'astronaut.png:' not in r.stdout
