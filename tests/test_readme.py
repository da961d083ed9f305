"README.md is index.ipynb's text, and its two set-up commands are the ones index.ipynb shows and CI runs."
import re, json

def setup_block(text):
    m = re.search(r'```sh\n(.*?)```', text, re.S)
    assert m, 'no ```sh set-up block'
    return [l for l in m.group(1).splitlines() if l.strip()]

def index_markdown(root):
    nb = json.loads((root/'nbs/index.ipynb').read_text())
    return '\n\n'.join(''.join(c['source']) for c in nb['cells'] if c['cell_type'] == 'markdown')

def test_readme_commands_match_index(root):
    readme, index = (root/'README.md').read_text(), index_markdown(root)
    cmds = setup_block(readme)
    assert len(cmds) == 2, f'README must give exactly two set-up commands, found {len(cmds)}'
    assert cmds == setup_block(index)

def test_readme_text_is_index_text(root):
    readme = (root/'README.md').read_text()
    for para in index_markdown(root).split('\n\n'):
        assert para.strip() in readme, f'README.md lacks this paragraph of index.ipynb: {para[:60]!r}'

def test_ci_runs_readme_test_command(root):
    install, test = setup_block((root/'README.md').read_text())
    ci = (root/'.ci/run').read_text()
    test_cmd = test.split('&&', 1)[1].strip()           # after activating the virtualenv
    for part in test_cmd.split('&&'): assert part.strip() in ci, f'.ci/run does not run {part.strip()!r}'
    assert 'torch==2.14.1 torchvision==0.29.1' in install and 'torch==2.14.1 torchvision==0.29.1' in ci
