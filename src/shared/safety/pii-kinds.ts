/**
 * The PII kinds a user configures (redaction blocks, the pii evaluator, serve guards), each a set of
 * @openredaction/core pattern types or a supplement of ours (./pii-patterns.ts). Kept apart from the redactor so configuration loading does not load the
 * library.
 */
export const PII_KINDS = {
  email: ['EMAIL'],
  phone: ['PHONE_US', 'PHONE_UK', 'PHONE_UK_MOBILE', 'PHONE_INTERNATIONAL', 'PHONE_INTL_GROUPED', 'PHONE_FR'],
  payment_card: ['CREDIT_CARD'],
  iban: ['IBAN', 'UK_BANK_ACCOUNT_IBAN', 'IBAN_GROUPED'],
  national_id: [
    'SSN',
    'SSN_FORMATTED',
    'NATIONAL_INSURANCE_UK',
    'NINO_STANDALONE',
    'SIN_CA',
    'CANADIAN_SIN',
    'INDIAN_AADHAAR',
    'SPANISH_DNI',
    'BRAZILIAN_CPF',
    'SINGAPORE_NRIC',
    'GERMAN_TAX_ID',
    'JAPANESE_MY_NUMBER',
  ],
  passport: ['PASSPORT_UK', 'PASSPORT_US', 'PASSPORT_MRZ_TD1', 'PASSPORT_MRZ_TD3'],
  address: ['ADDRESS_STREET', 'ADDRESS_CONTINENTAL', 'ADDRESS_PO_BOX', 'POSTCODE_UK'],
  ip_address: ['IPV4', 'IPV6'],
} as const satisfies Record<string, readonly string[]>;

export type PiiKind = keyof typeof PII_KINDS;

/** Every kind: what an evaluator or a redaction block without `kinds` looks for. */
export const ALL_PII_KINDS = Object.keys(PII_KINDS) as PiiKind[];
