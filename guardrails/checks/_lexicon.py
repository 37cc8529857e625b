"""Word lists shared by the output checks: medicines, tests and diagnoses (English and Spanish)."""

from __future__ import annotations

import re
import string
from itertools import compress
from operator import methodcaller

from guardrails.checks._prefilter import Pattern, letter_runs, lowered

_MEDICATIONS = (
    "acetaminophen tylenol ibuprofen advil motrin naproxen aleve aspirin paracetamol metformin glipizide "
    "glyburide insulin lantus humalog novolog ozempic semaglutide trulicity jardiance farxiga januvia lisinopril "
    "enalapril ramipril losartan valsartan olmesartan amlodipine nifedipine diltiazem verapamil metoprolol "
    "atenolol carvedilol propranolol hydrochlorothiazide hctz chlorthalidone furosemide lasix spironolactone "
    "atorvastatin lipitor simvastatin rosuvastatin crestor pravastatin warfarin coumadin apixaban eliquis "
    "rivaroxaban xarelto clopidogrel plavix levothyroxine synthroid omeprazole prilosec pantoprazole "
    "esomeprazole nexium famotidine pepcid ondansetron zofran sertraline zoloft fluoxetine prozac citalopram "
    "escitalopram lexapro paroxetine venlafaxine duloxetine cymbalta bupropion wellbutrin trazodone mirtazapine "
    "buspirone alprazolam xanax lorazepam ativan clonazepam klonopin diazepam valium zolpidem ambien gabapentin "
    "neurontin pregabalin lyrica tramadol oxycodone hydrocodone vicodin percocet morphine codeine fentanyl "
    "buprenorphine suboxone naloxone narcan methadone prednisone prednisolone methylprednisolone dexamethasone "
    "amoxicillin augmentin azithromycin zithromax doxycycline cephalexin keflex ciprofloxacin cipro levofloxacin "
    "nitrofurantoin macrobid bactrim sulfamethoxazole clindamycin metronidazole flagyl fluconazole diflucan "
    "valacyclovir valtrex acyclovir oseltamivir tamiflu albuterol ventolin proair fluticasone flovent advair "
    "symbicort montelukast singulair cetirizine zyrtec loratadine claritin fexofenadine allegra diphenhydramine "
    "benadryl epinephrine epipen levetiracetam keppra lamotrigine lamictal topiramate topamax valproate depakote "
    "phenytoin dilantin carbamazepine lithium quetiapine seroquel aripiprazole abilify risperidone olanzapine "
    "methotrexate hydroxychloroquine allopurinol colchicine tamsulosin flomax finasteride sildenafil viagra "
    "tadalafil cialis estradiol progesterone medroxyprogesterone contraceptive meloxicam cyclobenzaprine "
    "baclofen tizanidine sumatriptan imitrex rizatriptan potassium iron ferrous vitamin"
).split()
_MED_SUFFIX = (r"[a-z]{3,}(?:pril|olol|sartan|statin|dipine|formin|gliptin|glutide|prazole|tidine|cillin|mycin|"
               r"floxacin|cycline|azole|vir|pam|lam|zepam|oxetine|aline|triptan|lukast|sone|olone|mab|nib)")
MEDICATION = re.compile(r"\b(?:" + "|".join(_MEDICATIONS) + r"|" + _MED_SUFFIX + r")\b", re.IGNORECASE)
_MED_NAMES = frozenset(_MEDICATIONS)
_MED_ENDINGS = tuple(re.findall(r"[a-z]+", _MED_SUFFIX.split("(?:", 1)[1]))
_TOKEN = re.compile(r"[A-Za-z]+")
_LOWER = frozenset(string.ascii_lowercase)


def _is_medicine(word: str) -> bool:
    return word in _MED_NAMES or (len(word) > 6 and word.endswith(_MED_ENDINGS))


def medications(text: str) -> list[tuple[tuple[int, int], str]]:
    """Medicine names in the text (known names and drug-class endings), by a linear token scan."""
    low = lowered(text)
    if low is None:
        return [(m.span(), m.group(0)) for m in _TOKEN.finditer(text) if _is_medicine(m.group(0).lower())]
    # The tokens, lower-cased, are the lower-cased text's runs of a-z, at the same places. Scanning every token costs
    # ~90 µs; checking the set of distinct runs, then finding the few medicine names in the text, costs a few.
    runs = letter_runs(low)
    # Only runs longer than 6 letters can be a drug-class name: picked in C before endswith(27 endings), the
    # costly test (a frozenset iterates in the same order each time).
    long_runs = compress(runs, map((6).__lt__, map(len, runs)))
    found = []
    for word in (runs & _MED_NAMES).union(filter(methodcaller("endswith", _MED_ENDINGS), long_runs)):
        start = low.find(word)
        while start >= 0:
            end = start + len(word)
            if low[start - 1:start] not in _LOWER and low[end:end + 1] not in _LOWER:  # a whole run
                found.append(((start, end), text[start:end]))
            start = low.find(word, start + 1)
    return sorted(found)


GENERIC_MEDICINE = re.compile(
    r"\b(?:medicines?|medications?|meds|pills?|tablets?|prescriptions?|dose|dosage|inhaler|insulin|antibiotics?|"
    r"medicamentos?|medicinas?|pastillas?|dosis)\b", re.IGNORECASE)

_TESTS = (
    r"a1c|hba1c|hemoglobin a1c|cholesterol|ldl|hdl|triglycerides?|potassium|sodium|creatinine|egfr|tsh|"
    r"thyroid (?:panel|test)|cbc|complete blood count|hemoglobin|platelets?|white (?:blood )?count|psa|"
    r"vitamin d|ferritin|glucose|blood sugar|urinalysis|urine (?:test|culture)|mri|ct scan|cat scan|x-?ray|"
    r"ultrasound|echo(?:cardiogram)?|ekg|ecg|mammogram|colonoscopy|biopsy|pap (?:smear|test)|inr|liver (?:panel|"
    r"enzymes|function)|metabolic panel|lipid panel|strep test|covid test|pcr"
)
TEST = Pattern(r"\b(?:" + _TESTS + r")\b")

DIAGNOSES = (
    r"migraines?|tension headache|(?:a |an )?(?:urinary tract |sinus |ear |bladder |kidney |yeast |viral |bacterial )?"
    r"infection|uti|the flu|flu|influenza|covid(?:-19)?|strep(?: throat)?|pneumonia|bronchitis|sinusitis|cancer|"
    r"(?:a )?tumou?r|diabetes|prediabetes|hypertension|high blood pressure|depression|an anxiety disorder|gerd|"
    r"acid reflux|reflux|ibs|irritable bowel syndrome|appendicitis|kidney stones?|(?:a )?concussion|(?:a )?sprain|"
    r"(?:a )?fracture|(?:a )?broken \w+|allergies|an allergy|shingles|gout|arthritis|osteoarthritis|asthma|copd|"
    r"heart failure|a heart attack|a stroke|anemia|hypothyroidism|hyperthyroidism|sciatica|plantar fasciitis|"
    r"tendonitis|carpal tunnel|vertigo|a cold|the common cold|gastroenteritis|a stomach bug|eczema|psoriasis|"
    r"a panic attack|panic attacks|a pulled muscle|a muscle strain|costochondritis|pleurisy|cellulitis|"
    r"conjunctivitis|pink eye|mono|lyme disease|a hernia|gallstones|a blood clot|dvt"
)

WORD_NUMBERS = {
    "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7", "eight": "8",
    "nine": "9", "ten": "10", "eleven": "11", "twelve": "12", "fifteen": "15", "twenty": "20", "thirty": "30",
    "uno": "1", "dos": "2", "tres": "3", "cuatro": "4", "cinco": "5", "seis": "6", "siete": "7", "ocho": "8",
    "diez": "10",
}
