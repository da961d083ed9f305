"kdnb_app run as a user runs it: a server on a free loopback port, an image sent with gradio_client, a verdict back; refusals in one line."
import os, shutil, socket, subprocess, sys, time
import cv2, pytest
from conftest import BIN

skimage = pytest.importorskip('skimage.data')
pytest.importorskip('gradio')
gradio_client = pytest.importorskip('gradio_client')

def _cmd():
    "The kdnb_app console script, or the same entry point where this environment was installed before the script existed"
    exe = BIN/'kdnb_app'
    return [str(exe)] if exe.exists() else [sys.executable, '-c', 'from kdnb.app import kdnb_app; kdnb_app()']

def _free_port():
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

@pytest.fixture
def server(work, tmp_path):
    port = _free_port()
    p = subprocess.Popen(_cmd() + [str(work['teacher']), '--port', str(port), '--max-mb', '1'], cwd=tmp_path,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=os.environ | dict(TMPDIR=str(tmp_path)))
    for _ in range(240):
        with socket.socket() as s:
            if s.connect_ex(('127.0.0.1', port)) == 0: break
        if p.poll() is not None: pytest.fail(f'kdnb_app exited: {p.stdout.read()[-2000:]}')
        time.sleep(0.5)
    yield port, tmp_path
    p.terminate(); out = p.communicate(timeout=30)[0]
    assert f'serving {work["teacher"]} at http://127.0.0.1:{port}' in out
    assert not list(tmp_path.glob('kdnb_app_*')), 'the uploads folder outlived the server'

def test_app_scores_an_upload(server, tmp_path):
    port, d = server
    img = d/'astronaut.png'; cv2.imwrite(str(img), cv2.cvtColor(skimage.astronaut(), cv2.COLOR_RGB2BGR))
    c = gradio_client.Client(f'http://127.0.0.1:{port}/', verbose=False)
    line, page = c.predict(gradio_client.handle_file(str(img)), api_name='/predict')
    assert line.startswith('astronaut.png: ') and ('real, fake probability' in line or 'fake, fake probability' in line)
    assert 'data:image/' in page and 'kdnb report' in page
    (d/'notes.txt').write_text('hello')
    with pytest.raises(Exception, match='notes.txt: not an image or a video'):
        c.predict(gradio_client.handle_file(str(d/'notes.txt')), api_name='/predict')
    ups = [p for p in d.glob('kdnb_app_*')]
    assert len(ups) == 1 and any(ups[0].rglob('astronaut.png'))   # uploads only inside the app's own temporary folder

def test_app_listens_on_loopback_only(server):
    port, _ = server
    ip = socket.gethostbyname(socket.gethostname())
    if ip.startswith('127.'): pytest.skip('this machine has no other address to try')
    with socket.socket() as s: assert s.connect_ex((ip, port)) != 0

def test_app_bad_model(tmp_path):
    r = subprocess.run(_cmd() + [str(tmp_path/'missing.pth')], capture_output=True, text=True, timeout=120, env=os.environ | dict(TMPDIR=str(tmp_path)))
    assert r.returncode == 2 and r.stderr.strip().splitlines()[0] == 'kdnb_app: error: checkpoint not found: ' + str(tmp_path/'missing.pth')
    assert not list(tmp_path.glob('kdnb_app_*'))   # its temporary folder is gone too
