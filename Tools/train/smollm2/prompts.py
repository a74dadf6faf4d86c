"""Prompts for self-distillation on SmolLM2-135M-Instruct, written by this
script from templates and word lists (nothing downloaded): questions,
instructions, code, math, geography, translation. Seeded, so every run gets
the same prompts; the held-out set shares no prompt text with the training set.
"""

from __future__ import annotations

import random
from typing import List, Tuple

CONCEPTS = [
    "photosynthesis", "gravity", "inflation", "democracy", "evolution", "the water cycle", "a black hole",
    "machine learning", "the immune system", "climate change", "an atom", "electricity", "the internet",
    "a volcano", "the stock market", "DNA", "a vaccine", "renewable energy", "the Renaissance",
    "the French Revolution", "plate tectonics", "a neural network", "compound interest", "a rainbow",
    "the greenhouse effect", "an earthquake", "the moon's phases", "a recession", "blockchain", "entropy",
    "the speed of light", "a supply chain", "the Roman Empire", "the Industrial Revolution", "an ecosystem",
    "a galaxy", "oxygen", "protein", "a hurricane", "magnetism", "sound waves", "a cell membrane",
    "the scientific method", "a metaphor", "supply and demand", "a solar eclipse", "tides", "friction",
    "the printing press", "antibiotics", "a computer virus", "cloud computing", "an operating system",
    "a database", "encryption", "the periodic table", "a tsunami", "the ozone layer", "a glacier",
    "the heart", "the brain", "sleep", "meditation", "a budget", "a credit score", "recycling",
    "a democracy's separation of powers", "the Olympic Games", "jazz music", "impressionist painting",
    "the Great Wall of China", "the pyramids of Egypt", "a telescope", "a microscope", "a battery",
    "a rocket engine", "a compass", "the human skeleton", "digestion", "a food chain", "pollination",
]
TOPICS = [
    "the ocean", "autumn leaves", "a city at night", "friendship", "a cup of coffee", "the mountains",
    "a rainy day", "learning to code", "the stars", "a lost cat", "spring flowers", "a long journey",
    "the first day of school", "a quiet library", "winter snow", "the sea breeze", "a busy market",
    "an old tree", "a summer festival", "the desert", "a train ride", "kindness", "courage", "home",
]
ACTIVITIES = [
    "staying productive when working from home", "learning a new language", "saving money",
    "sleeping better", "writing a good essay", "preparing for a job interview", "staying healthy",
    "reducing stress", "studying for an exam", "starting to run", "cooking healthy meals",
    "keeping a plant alive", "public speaking", "making new friends", "managing time",
    "travelling on a budget", "writing clean code", "reading more books", "taking better photos",
    "organizing a small event", "learning to play the guitar", "keeping a journal",
]
PEOPLE = ["my manager", "a colleague", "my landlord", "a teacher", "a customer", "a friend", "my neighbour"]
SUBJECTS = ["a meeting next week", "a late delivery", "a broken heater", "a project update",
            "a thank-you for their help", "a request for a day off", "a change of plans"]
CODE_TASKS = [
    "reverses a string", "checks whether a number is prime", "returns the factorial of n",
    "computes the n-th Fibonacci number", "counts the vowels in a string", "removes duplicates from a list",
    "finds the largest number in a list", "checks whether a word is a palindrome", "sorts a list of numbers",
    "converts Celsius to Fahrenheit", "sums the even numbers in a list", "merges two sorted lists",
    "counts the words in a sentence", "returns the average of a list", "flattens a nested list",
    "finds the second largest element of a list", "capitalizes every word in a sentence",
    "checks whether two strings are anagrams", "computes the greatest common divisor of two numbers",
    "returns the squares of the numbers from 1 to n", "reads a text file and prints its lines",
    "counts how often each character occurs in a string", "checks whether a year is a leap year",
    "converts a binary string to an integer", "returns the length of the longest word in a sentence",
]
LANGS = ["Python", "JavaScript"]
CS = ["a variable", "a loop", "a function", "recursion", "a class", "a list", "a dictionary", "an API",
      "a compiler", "a hash table", "a linked list", "a stack", "a queue", "binary search", "Git",
      "an algorithm", "object-oriented programming", "a pointer", "a string", "an exception"]
COUNTRIES = [
    "France", "Germany", "Italy", "Spain", "Japan", "China", "India", "Brazil", "Canada", "Mexico",
    "Australia", "Egypt", "Kenya", "Nigeria", "Argentina", "Chile", "Peru", "Russia", "Turkey", "Greece",
    "Portugal", "Sweden", "Norway", "Finland", "Poland", "Ireland", "Thailand", "Vietnam",
    "Indonesia", "South Korea", "Morocco", "Ghana", "Colombia", "Austria", "Switzerland", "Belgium",
    "the Netherlands", "Denmark", "New Zealand", "Cuba",
]
PHRASES = ["good morning", "thank you very much", "where is the train station", "I love reading books",
           "the weather is nice today", "how much does this cost", "see you tomorrow", "I am hungry"]
TARGETS = ["French", "Spanish", "German", "Italian"]
ANIMALS = ["the elephant", "the dolphin", "the honeybee", "the penguin", "the owl", "the octopus",
           "the cheetah", "the whale", "the ant", "the wolf", "the eagle", "the turtle"]


def _question(r: random.Random) -> str:
    c = r.choice(CONCEPTS)
    return r.choice([f"What is {c}?", f"Explain {c} in simple terms.", f"How does {c} work?",
                     f"Why is {c} important?", f"Give me a short summary of {c}.",
                     f"Describe {c} to a ten-year-old.", f"What are three facts about {c}?"])


def _instruction(r: random.Random) -> str:
    k = r.randrange(5)
    if k == 0:
        return f"Write a short poem about {r.choice(TOPICS)}."
    if k == 1:
        return f"Give me {r.choice(['three', 'five'])} tips for {r.choice(ACTIVITIES)}."
    if k == 2:
        return f"Write a short email to {r.choice(PEOPLE)} about {r.choice(SUBJECTS)}."
    if k == 3:
        return f"Write a two-sentence story about {r.choice(TOPICS)}."
    return f"Tell me an interesting fact about {r.choice(ANIMALS)}."


def _code(r: random.Random) -> str:
    k = r.randrange(3)
    if k == 0:
        return f"Write a {r.choice(LANGS)} function that {r.choice(CODE_TASKS)}."
    if k == 1:
        return f"Explain what {r.choice(CS)} is in programming."
    a, b = r.randrange(2, 20), r.randrange(2, 20)
    expr = r.choice([f"len('{'ab' * a}')", f"{a} // {b}", f"{a} % {b}", f"[i * {b} for i in range({a % 5 + 2})]",
                     f"sorted([{a}, {b}, {a + b}, 1])", f"'{r.choice(TOPICS).split()[-1]}'.upper()"])
    return f"What does the Python expression {expr} evaluate to?"


def _math(r: random.Random) -> str:
    a, b, c = r.randrange(2, 100), r.randrange(2, 100), r.randrange(2, 12)
    k = r.randrange(6)
    if k == 0:
        return f"What is {a} + {b}?"
    if k == 1:
        return f"What is {a} times {c}?"
    if k == 2:
        return f"Solve for x: {c}x + {a} = {c * b + a}."
    if k == 3:
        return f"A train travels {a * c} km in {c} hours. What is its average speed?"
    if k == 4:
        return f"What is {c * 10}% of {a * 10}?"
    return f"If I have {a} apples and give away {min(a, b)}, how many are left?"


def _geography(r: random.Random) -> str:
    n = r.choice(COUNTRIES)
    return r.choice([f"What is the capital of {n}?", f"What language is spoken in {n}?",
                     f"Tell me about the culture of {n}.", f"What is {n} famous for?"])


def _translation(r: random.Random) -> str:
    return f"Translate '{r.choice(PHRASES)}' into {r.choice(TARGETS)}."


KINDS = [(_question, 3), (_instruction, 3), (_code, 2), (_math, 2), (_geography, 1), (_translation, 1)]


def make_prompts(n_train: int, n_held_out: int, seed: int = 0) -> Tuple[List[str], List[str]]:
    """Distinct prompts: the first n_held_out drawn are held out, the next n_train train."""
    r = random.Random(seed)
    funcs = [f for f, w in KINDS for _ in range(w)]
    seen, out = set(), []
    tries = 0
    while len(out) < n_train + n_held_out:
        tries += 1
        if tries > 100 * (n_train + n_held_out):
            raise ValueError(f"only {len(out)} distinct prompts; the templates cannot give more")
        p = r.choice(funcs)(r)
        if p not in seen:
            seen.add(p)
            out.append(p)
    return out[n_held_out:], out[:n_held_out]


if __name__ == "__main__":
    tr, ho = make_prompts(3000, 64)
    print(len(tr), len(ho))
    for p in ho[:12]:
        print(" ", p)
