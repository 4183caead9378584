"""Container ids (64 hex characters, shown as 12) and docker-style generated names."""

from __future__ import annotations

import re
import secrets

_ADJECTIVES = """
admiring adoring affectionate agitated amazing angry awesome beautiful blissful bold
boring brave busy charming clever compassionate competent condescending confident cool
cranky crazy dazzling determined distracted dreamy eager ecstatic elastic elated elegant
eloquent epic exciting fervent festive flamboyant focused friendly frosty funny gallant
gifted goofy gracious great happy hardcore heuristic hopeful hungry infallible inspiring
intelligent interesting jolly jovial keen kind laughing loving lucid magical modest
musing mystifying naughty nervous nice nifty nostalgic objective optimistic peaceful
pedantic pensive practical priceless quirky quizzical recursing relaxed reverent
romantic sad serene sharp silly sleepy stoic strange stupefied suspicious sweet tender
thirsty trusting unruffled upbeat vibrant vigilant vigorous wizardly wonderful
xenodochial youthful zealous zen
""".split()

_SURNAMES = """
agnesi albattani allen almeida antonelli archimedes ardinghelli aryabhata austin babbage
banach banzai bardeen bartik bassi beaver bell benz bhabha bhaskara black blackburn
blackwell bohr booth borg bose bouman boyd brahmagupta brattain brown buck burnell
cannon carson cartwright carver cerf chandrasekhar chaplygin chatelet chatterjee chaum
chebyshev clarke cohen colden cori cray curie curran darwin davinci dewdney dhawan
diffie dijkstra dirac driscoll dubinsky easley edison einstein elbakyan elgamal elion
ellis engelbart euclid euler faraday feistel fermat fermi feynman franklin gagarin
galileo galois ganguly gates gauss germain goldberg goldstine goldwasser golick goodall
gould greider grothendieck haibt hamilton haslett hawking heisenberg hellman hermann
herschel hertz heyrovsky hodgkin hofstadter hoover hopper hugle hypatia ishizaka
jackson jang jemison jennings jepsen johnson joliot jones kalam kapitsa kare keldysh
keller kepler khayyam khorana kilby kirch knuth kowalevski lalande lamarr lamport
leakey leavitt lederberg lehmann lewin lichterman liskov lovelace lumiere mahavira
margulis matsumoto maxwell mayer mccarthy mcclintock mclaren mclean mcnulty meitner
mendel mendeleev meninsky merkle mestorf mirzakhani montalcini moore morse moser
murdock napier nash neumann newton nightingale nobel noether northcutt noyce panini
pare pascal pasteur payne perlman pike poincare poitras proskuriakova ptolemy raman
ramanujan rhodes ride ritchie robinson roentgen rosalind rubin saha sammet sanderson
satoshi shamir shannon shaw shirley shockley shtern sinoussi snyder solomon spence
stonebraker sutherland swanson swartz swirles taussig tesla tharp thompson torvalds
tu turing varahamihira vaughan villani visvesvaraya volhard wescoff wilbur wiles
williams williamson wilson wing wozniak wright wu yalow yonath zhukovsky
""".split()

# docker's rule for user-given names
_VALID_NAME = re.compile(r"^/?[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def new_id() -> str:
    return secrets.token_hex(32)


def is_full_id(text: str) -> bool:
    return bool(_HEX64.match(text))


def short_id(container_id: str) -> str:
    return container_id[:12]


def is_valid_name(name: str) -> bool:
    return bool(_VALID_NAME.match(name))


def generate_name(taken: set[str]) -> str:
    """adjective_surname, not in `taken` (docker's generator; it too never says boring_wozniak)."""
    for attempt in range(200):
        name = f"{secrets.choice(_ADJECTIVES)}_{secrets.choice(_SURNAMES)}"
        if name == "boring_wozniak":
            continue
        if attempt >= 20:  # crowded: add a digit, as docker does after a collision
            name += str(secrets.randbelow(10))
        if name not in taken:
            return name
    return f"{secrets.choice(_ADJECTIVES)}_{secrets.choice(_SURNAMES)}{secrets.token_hex(3)}"
